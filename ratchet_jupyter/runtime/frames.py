"""DataFrames in and out of batches: one row, one input; one row, one execution."""

from __future__ import annotations

import math
from typing import Any


def is_dataframe(value: Any) -> bool:
    """True for a pandas DataFrame (checked by shape, so pandas is imported only when used)."""
    return hasattr(value, "to_dict") and hasattr(value, "columns") and hasattr(value, "iloc")


def _plain(value: Any) -> Any:
    # a missing value in a frame is JSON null, not NaN (which JSON cannot carry)
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def frame_inputs(frame: Any) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-ready dicts (column name -> value)."""
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def executions_frame(frame: Any, executions: list) -> Any:
    """``frame``'s columns, then each output's fields (flattened one level), status, error, duration."""
    import pandas as pd

    outputs = []
    for execution in executions:
        value = execution.output
        if isinstance(value, dict):
            outputs.append(value)
        else:  # a failed item adds no fields; a scalar or list output is one "output" column
            outputs.append({} if value is None and execution.error is not None else {"output": value})
    out = pd.DataFrame(outputs, index=frame.index)
    clashes = [c for c in out.columns if c in frame.columns]
    out = out.rename(columns={c: f"output.{c}" for c in clashes})
    result = pd.concat([frame, out], axis=1)
    result["status"] = [e.status.value for e in executions]
    result["error"] = [e.error.one_line() if e.error is not None else None for e in executions]
    result["duration_ms"] = [e.duration_ms for e in executions]
    result.attrs["executions"] = executions
    return result
