"""The HTTP that tasks' ``fetch`` performs."""

from traitlets import Float, Int, List, Unicode
from traitlets.config import Configurable


class HttpConfig(Configurable):
    """Which hosts tasks may reach and the limits on their requests."""

    allowed_hosts = List(
        Unicode(),
        help="""Hosts a task may fetch from ('api.example.com', '*.example.com', '127.0.0.1').
        Empty allows every host not denied.""",
    ).tag(config=True)
    denied_hosts = List(
        Unicode(), help="Hosts a task may never fetch from (checked before allowed_hosts)."
    ).tag(config=True)
    timeout = Float(10.0, help="Seconds before a request fails with a NetworkError.").tag(config=True)
    max_response_size = Int(
        10 * 1024 * 1024, help="Largest response body accepted, in bytes."
    ).tag(config=True)
    max_requests = Int(100, help="Most fetch calls one execution may make.").tag(config=True)
    user_agent = Unicode("ratchet-jupyter", help="User-Agent header sent when the task sets none.").tag(config=True)
