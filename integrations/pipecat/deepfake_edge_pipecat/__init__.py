"""deepfake-edge for Pipecat: a drop-in FrameProcessor that streams a bot's media to the service."""

from .alert import DeepfakeAlert
from .processor import DeepfakeEdgeAuthError, DeepfakeEdgeProcessor, NotificationCallback

__all__ = ["DeepfakeAlert", "DeepfakeEdgeAuthError", "DeepfakeEdgeProcessor", "NotificationCallback"]
__version__ = "0.1.0"
