"""The Jupyter-free core: tasks, executions, test cases, errors and schema validation."""

from .errors import *  # noqa: F401,F403
from .errors import ERROR_TYPES, RatchetError, error_from_dict
from .execution import Execution, ExecutionStatus
from .schema import compile_validator, validate
from .task import Task, load_task, parse_size
from .testcase import TestCase, TestReport, TestResult, judge

__all__ = [
    "ERROR_TYPES", "Execution", "ExecutionStatus", "RatchetError", "Task", "TestCase",
    "TestReport", "TestResult", "compile_validator", "error_from_dict", "judge", "load_task",
    "parse_size", "validate",
]
