"""
A Pipecat bot whose media is checked for deepfakes by deepfake-edge.

It is the Dataspike reference bot (github.com/dataspike-io/pipecat-deepfake-bot, bot.py) with one
change: DeepfakeEdgeProcessor stands where DataspikeDeepfakeProcessor stood, so the bot streams to a
deepfake-edge service instead of to the Dataspike API. It runs locally (Pipecat's runner and
playground) and on Pipecat Cloud.

Environment: DEEPFAKE_EDGE_URL (default http://127.0.0.1:8787, `npm start`), and DEEPFAKE_EDGE_TOKEN
(a connect token) or DEEPFAKE_EDGE_ADMIN_KEY (to mint one); neither is needed in development mode.
"""

import os

import aiohttp
from dotenv import load_dotenv
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineParams, PipelineTask
from pipecat.runner.types import RunnerArguments
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecatcloud import PipecatSessionArguments, SmallWebRTCSessionManager
from pipecatcloud.agent import SmallWebRTCSessionArguments

from deepfake_edge_pipecat import DeepfakeEdgeProcessor

load_dotenv(override=True)

# Pipecat Cloud calls bot() twice (session, then WebRTC); this waits between the two.
session_manager = SmallWebRTCSessionManager(timeout_seconds=120)


async def run_bot(transport: BaseTransport, runner_args: RunnerArguments):
    """Runs transport input -> deepfake-edge -> transport output until the client leaves.

    The processor connects when the client does, with the client's connection id as the
    participant, and stops when it leaves. Only the camera is captured, never screen share.
    """
    logger.info(f"RunnerArguments custom data: {runner_args.body}")

    async with aiohttp.ClientSession() as session:
        # The deepfake-edge processor (it uses the session, and never closes it)
        deepfake_processor = DeepfakeEdgeProcessor(
            os.getenv("DEEPFAKE_EDGE_URL", "http://127.0.0.1:8787"),
            token=os.getenv("DEEPFAKE_EDGE_TOKEN"),
            admin_key=os.getenv("DEEPFAKE_EDGE_ADMIN_KEY"),
            session=session,
            # pipecat 1.14's TransportParams has no VAD any more, so this pipeline carries no
            # speaking frames: the service's own voice gate decides when the person speaks.
            client_vad=False,
        )

        # Input → deepfake-edge → output
        pipeline = Pipeline(
            [
                transport.input(),
                deepfake_processor,
                transport.output(),
            ]
        )

        # Interruptions and metrics on
        task = PipelineTask(
            pipeline,
            params=PipelineParams(
                allow_interruptions=True,
                enable_metrics=True,
                enable_usage_metrics=True,
            ),
        )

        @transport.event_handler("on_client_connected")
        async def on_client_connected(transport, client):
            """Connects the processor for this client and starts capturing its camera."""
            logger.info("Client connected.")
            await deepfake_processor.start()
            deepfake_processor.set_webrtc_connection(client)
            deepfake_processor.set_participant_id(client.pc_id)
            await transport.capture_participant_video("camera")

        @transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(transport, participant):
            """Stops the processor and ends the pipeline."""
            logger.info("Client disconnected: {}", participant)
            await deepfake_processor.stop()
            await task.cancel()

        runner = PipelineRunner(handle_sigint=runner_args.handle_sigint)

        await runner.run(task)


async def bot(runner_args: RunnerArguments):
    """The entry point Pipecat's runner and Pipecat Cloud call.

    On Pipecat Cloud the first call (PipecatSessionArguments) only waits until the WebRTC
    connection exists, and the second (SmallWebRTCSessionArguments) runs the bot; locally the
    runner passes the connection at once.

    Raises:
        TimeoutError: when no WebRTC connection arrives in time
    """

    # Pipecat Cloud, first call: wait for the WebRTC connection
    if isinstance(runner_args, PipecatSessionArguments):
        logger.info(
            "Starting the bot, but still waiting for the webrtc_connection to be set"
        )
        try:
            await session_manager.wait_for_webrtc()
        except TimeoutError as e:
            logger.error(f"Timeout waiting for WebRTC connection: {e}")
            raise
        return

    # Pipecat Cloud, second call: the connection is here
    elif isinstance(runner_args, SmallWebRTCSessionArguments):
        logger.info(
            "Received the webrtc_connection from Pipecat Cloud, will start the pipeline"
        )
        session_manager.cancel_timeout()

    webrtc_connection: SmallWebRTCConnection = runner_args.webrtc_connection
    try:
        # Audio and video in both directions
        transport = SmallWebRTCTransport(
            webrtc_connection=webrtc_connection,
            params=TransportParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_out_10ms_chunks=2,
                video_in_enabled=True,
                video_out_enabled=True,
                video_out_is_live=True,
                vad_analyzer=SileroVADAnalyzer(),
            ),
        )

        if transport is None:
            logger.error("Failed to create transport")
            return

        await run_bot(transport, runner_args)
        logger.info("Bot process completed")
    except Exception as e:
        logger.exception(f"Error in bot process: {str(e)}")
        raise
    finally:
        logger.info("Cleaning up SmallWebRTC resources")
        session_manager.complete_session()


if __name__ == "__main__":
    # `python bot.py`: Pipecat's runner (environment, logging, signals, playground) calls bot()
    from pipecat.runner.run import main

    main()
