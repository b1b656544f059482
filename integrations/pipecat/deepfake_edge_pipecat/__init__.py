"""deepfake-edge for Pipecat: a FrameProcessor that streams a bot's media to the service.

``DeepfakeEdgeProcessor`` is the native API; ``deepfake_edge_pipecat.compat`` is the drop-in for bots
written against the Dataspike reference's ``DataspikeDeepfakeProcessor``.
"""

from .alert import DeepfakeAlert
from .checks import CheckError
from .connection import DeepfakeEdgeAuthError
from .events import CheckCompleted
from .processor import DeepfakeEdgeProcessor, NotificationCallback

__all__ = [
    "CheckCompleted",
    "CheckError",
    "DeepfakeAlert",
    "DeepfakeEdgeAuthError",
    "DeepfakeEdgeProcessor",
    "NotificationCallback",
]
__version__ = "0.2.0"
