"""Plugins: the protocol, discovery (entry points and directories), the manager and middleware."""

from .manager import PluginManager, PluginRecord
from .middleware import Middleware, MiddlewareChain
from .protocol import Capabilities, Plugin, PluginContext

__all__ = ["Capabilities", "Middleware", "MiddlewareChain", "Plugin", "PluginContext", "PluginManager", "PluginRecord"]
