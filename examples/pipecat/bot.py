"""
A Pipecat bot whose camera and microphone are checked for deepfakes by deepfake-edge.

It is the Dataspike reference bot (github.com/dataspike-io/pipecat-deepfake-bot, bot.py) moved over:
its processor comes from deepfake_edge_pipecat.compat instead of `deepfake` (the one-import change),
and it is written against pipecat 1.14's current API: PipelineWorker and WorkerRunner instead of the
deprecated PipelineTask and PipelineRunner, and a VADProcessor in the pipeline, because 1.14's
TransportParams no longer takes vad_analyzer (it is silently ignored there). It runs locally
(Pipecat's runner and playground) and on Pipecat Cloud.

Environment: DEEPFAKE_EDGE_URL (the service, e.g. http://127.0.0.1:8787 from `npm start`), and in
production DEEPFAKE_EDGE_TOKEN: a connect token with scope "stream" that your backend mints for the
participant (POST /v1/tokens with the admin key, which stays on the backend). Neither a token nor
the admin key is needed in development mode.
"""

import aiohttp
from dotenv import load_dotenv
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.runner.types import RunnerArguments
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner
from pipecatcloud import PipecatSessionArguments, SmallWebRTCSessionManager
from pipecatcloud.agent import SmallWebRTCSessionArguments

from deepfake_edge_pipecat.compat import (
    AudioParams,
    DataspikeDeepfakeProcessor,
    DeepfakeStreamingSchemaResultEvent,
    EventType,
    VideoParams,
)

load_dotenv(override=True)

# Pipecat Cloud calls bot() twice (session, then WebRTC); this waits between the two.
session_manager = SmallWebRTCSessionManager(timeout_seconds=120)


async def on_deepfake_alert(event: DeepfakeStreamingSchemaResultEvent):
    """Called on entering ALERT and on ALERT -> CLEAR, as the reference's handler was.

    event.participant_id is the client's pc_id as the bot set it; event.alert carries the service's
    whole transition (id, previous level, reason, simulated) for routing to moderation.
    """
    if event.type == EventType.ALERT:
        logger.critical(f"DEEPFAKE ALERT: {event.participant_id} (track {event.track_id}): {event.message}")
    elif event.type == EventType.CLEAR:
        logger.info(f"All clear for {event.participant_id}")


async def run_bot(transport: BaseTransport, runner_args: RunnerArguments):
    """Runs transport input -> VAD -> deepfake-edge -> transport output until the client leaves.

    The processor connects when the client does, with the client's connection id as the
    participant, and stops when it leaves. Only the camera is captured, never screen share.
    """
    logger.info(f"RunnerArguments custom data: {runner_args.body}")

    async with aiohttp.ClientSession() as session:
        # The reference's constructor, unchanged: the URL and token come from DEEPFAKE_EDGE_URL and
        # DEEPFAKE_EDGE_TOKEN; the params are this connection's limits (they can only lower the
        # service's rates); the processor uses the session and never closes it.
        deepfake_processor = DataspikeDeepfakeProcessor(
            session=session,
            video_params=VideoParams(),
            audio_params=AudioParams(),
            notification_cb=on_deepfake_alert,
        )

        # Input -> VAD (speaking frames gate the audio sent) -> deepfake-edge -> output
        pipeline = Pipeline(
            [
                transport.input(),
                VADProcessor(vad_analyzer=SileroVADAnalyzer()),
                deepfake_processor,
                transport.output(),
            ]
        )

        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
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
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=runner_args.handle_sigint)
        await runner.add_workers(worker)
        await runner.run()


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
        logger.info("Starting the bot, but still waiting for the webrtc_connection to be set")
        try:
            await session_manager.wait_for_webrtc()
        except TimeoutError as e:
            logger.error(f"Timeout waiting for WebRTC connection: {e}")
            raise
        return

    # Pipecat Cloud, second call: the connection is here
    elif isinstance(runner_args, SmallWebRTCSessionArguments):
        logger.info("Received the webrtc_connection from Pipecat Cloud, will start the pipeline")
        session_manager.cancel_timeout()

    webrtc_connection: SmallWebRTCConnection = runner_args.webrtc_connection
    try:
        # Audio and video in both directions (the VAD is a processor in the pipeline now)
        transport = SmallWebRTCTransport(
            webrtc_connection=webrtc_connection,
            params=TransportParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_out_10ms_chunks=2,
                video_in_enabled=True,
                video_out_enabled=True,
                video_out_is_live=True,
            ),
        )

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
