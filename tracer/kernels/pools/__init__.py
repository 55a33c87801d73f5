"""The pools of the trace kernel, one module per rule, as in ``tests/oracle.py``.

- poison: ``poison.py`` (``PoisonPool``)
- haircut: ``haircut.py`` (``HaircutPool``)
- libr: ``libr.py`` (``LibrPool``)
- fifo, lifo: ``lots.py`` (``LotPool``), on the segment arena of ``arena.py``

``dispatch.py`` picks a rule's step by its code; ``common.py`` holds the rule codes and the
columns of a slot. The event loop that drives them is ``tracer.kernels.trace``.
"""
