"""traitlets Configurables, one per domain, and the config file loader."""

from .execution import ExecutionConfig
from .http import HttpConfig
from .loader import load_config, load_config_files, parse_config_args
from .output import OutputConfig
from .plugins import PluginConfig
from .registry import RegistryConfig
from .retry import RetryConfig
from .storage import StorageConfig
from .validation import ValidationConfig

#: Every configurable class of the runtime (for help output and config generation).
CONFIG_CLASSES = [
    ExecutionConfig, ValidationConfig, RetryConfig, HttpConfig, StorageConfig, RegistryConfig, OutputConfig, PluginConfig,
]

__all__ = [
    "CONFIG_CLASSES", "ExecutionConfig", "HttpConfig", "OutputConfig", "PluginConfig", "RegistryConfig", "RetryConfig",
    "StorageConfig", "ValidationConfig",
    "load_config", "load_config_files", "parse_config_args",
]
