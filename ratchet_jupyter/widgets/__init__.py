"""ipywidgets front-ends: a form that runs a task, and a browser of the execution history.

Import this package (``import ratchet_jupyter.widgets``) only where ipywidgets is
installed; the rest of the library never imports it.

>>> from ratchet_jupyter.widgets import TaskForm, HistoryBrowser   # doctest: +SKIP
>>> TaskForm(task)                                                  # doctest: +SKIP
>>> HistoryBrowser(page_size=20)                                    # doctest: +SKIP
"""

from .form import TaskForm
from .history import HistoryBrowser

__all__ = ["HistoryBrowser", "TaskForm"]
