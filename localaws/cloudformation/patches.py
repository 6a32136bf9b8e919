"""moto's DescribeStacks, made to report parameters as CloudFormation does.

CloudFormation's DescribeStacks returns each parameter's ``ParameterValue`` as the string it
was given: a ``CommaDelimitedList`` reads back as ``dev,prod`` (CloudFormation API reference,
``Parameter``: "ParameterValue ... Type: String"). moto 5.2 resolves such a parameter to a
Python list and renders that list, so ``dev,prod`` reads back as ``['dev', 'prod']``, and a
reader that splits on commas (the operator CLI's ``--stack``) would see stages named ``['dev'``
and ``'prod']``. ``install()`` (idempotent, process-wide) joins list values with commas, as
they were given.

A ``NoEcho`` parameter reads back as ``****`` ("Parameter values are masked with asterisks";
CloudFormation user guide, ``NoEcho``). moto 5.2 compares each *value* with the NoEcho keys,
so it shows the secret; this masks by key. Every other value is unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.cloudformation.models import Stack

_INSTALL_LOCK = threading.Lock()
_original: list[Any] = []


def _parameter_list(self: Stack) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = _original[0].fget(self)
    hidden = set(self.resource_map.no_echo_parameter_keys)
    shown = []
    for parameter in parameters:
        value = parameter["ParameterValue"]
        if parameter["ParameterKey"] in hidden:
            value = "****"
        elif isinstance(value, list):
            value = ",".join(map(str, value))
        shown.append({**parameter, "ParameterValue": value})
    return shown


def install() -> None:
    with _INSTALL_LOCK:
        if _original:
            return
        _original.append(Stack.parameter_list)
        Stack.parameter_list = property(_parameter_list)  # type: ignore[method-assign,assignment]
