"""A bot written the way the Dataspike reference's users wrote theirs, with only its imports changed.

It follows the reference's bot.py and README (pipecat-deepfake-bot): the processor built with the
reference's keywords, ``[transport.input(), processor, transport.output()]`` under ``PipelineTask`` and
``PipelineRunner`` (deprecated in pipecat 1.14, still what such bots run), the client-connected
handler's calls, and the README's notification handler, unchanged. The tests drive it with a
transport of their own and check what its handler logged.
"""

import os

import aiohttp
from loguru import logger
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineParams, PipelineTask

# The only change: these imports (they were `from deepfake import …` and `from schema_pb2 import …`).
from deepfake_edge_pipecat.compat import (
    AudioParams,
    DataspikeDeepfakeProcessor,
    DeepfakeStreamingSchemaResultEvent,
    EventType,
    VideoParams,
)


async def custom_notification_handler(event: DeepfakeStreamingSchemaResultEvent):
    """The reference README's handler."""
    if event.type == EventType.ALERT:
        logger.critical(f"DEEPFAKE ALERT: {event.participant_id} (track {event.track_id})")
    elif event.type == EventType.CLEAR:
        logger.info(f"All clear for {event.participant_id} (track {event.track_id})")


async def run_bot(transport, runner_args):
    async with aiohttp.ClientSession() as session:
        deepfake_processor = DataspikeDeepfakeProcessor(
            api_key=os.getenv("DATASPIKE_API_KEY"),
            session=session,
            video_params=VideoParams(normal_fps=0.2, burst_fps=1.0, quality=75),
            audio_params=AudioParams(sample_rate=16000, sample_size=48000, interval=60),
            notification_cb=custom_notification_handler,
        )
        pipeline = Pipeline([transport.input(), deepfake_processor, transport.output()])
        task = PipelineTask(
            pipeline,
            params=PipelineParams(allow_interruptions=True, enable_metrics=True, enable_usage_metrics=True),
        )

        @transport.event_handler("on_client_connected")
        async def on_client_connected(transport, client):
            logger.info(f"Client connected: {client.pc_id}")
            await deepfake_processor.start()
            deepfake_processor.set_webrtc_connection(client)
            deepfake_processor.set_participant_id(client.pc_id)
            await transport.capture_participant_video("camera")

        @transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(transport, participant):
            logger.info(f"Client disconnected: {participant}")
            await deepfake_processor.stop()
            await task.cancel()

        runner = PipelineRunner(handle_sigint=runner_args.handle_sigint)
        await runner.run(task)
