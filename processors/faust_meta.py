"""The metaclass of this package's subclasses of Faust services (mode.Service), named for mypy.

mypy checks the implicit `__init_subclass__` call of a class statement, and with disallow_any_expr it reports
mode.Service's constructor type (Faust and mode type their constructors with Any) on no line of our code, so no
subclass of a Faust service could pass. mypy skips that check for a class that names its own metaclass: the
subclasses name this one. At run time it is the metaclass they have anyway (abc.ABCMeta, mode.Service's).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from mode import Service

if TYPE_CHECKING:
    class ServiceMeta(abc.ABCMeta):
        pass
else:
    ServiceMeta = type(Service)
