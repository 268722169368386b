"""Retries of failed executions."""

from traitlets import Bool, Float, Int, validate
from traitlets.config import Configurable

from ..core.errors import ConfigError


class RetryConfig(Configurable):
    """Which failures are retried, how often and with what back-off.

    Only retryable failures are retried: a lost worker, and the JS errors
    NetworkError, RateLimitError and ServiceUnavailableError; timeouts only when
    ``retry_timeouts`` is on.
    """

    max_attempts = Int(3, help="Attempts per execution, the first included (1 disables retries).").tag(config=True)
    initial_delay = Float(0.1, help="Seconds before the first retry.").tag(config=True)
    backoff_multiplier = Float(2.0, help="Each further retry waits this many times longer.").tag(config=True)
    max_delay = Float(10.0, help="Upper bound of the wait between attempts, in seconds.").tag(config=True)
    retry_timeouts = Bool(False, help="Also retry executions that ran past their time limit.").tag(config=True)

    @validate("max_attempts")
    def _check_attempts(self, proposal):
        if proposal["value"] < 1:
            raise ConfigError(f"RetryConfig.max_attempts must be at least 1, got {proposal['value']}")
        return proposal["value"]

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.max_delay, self.initial_delay * self.backoff_multiplier ** (attempt - 1))
