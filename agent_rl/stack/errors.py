"""Errors of the local stack (`agent-rl stack ...`).

Each says what is wrong, the offending value, and what to do; the CLI prints them as
one line.

    AgentRLError
    └── StackError                    anything the stack raises on purpose
        ├── StackConfigError          the stack definition is invalid (bad YAML, bad field)
        │   ├── UnknownServiceError   a name that is not a service (has "did you mean")
        │   ├── DependencyError       depends_on names a missing/disabled service, or a cycle
        │   └── PortClashError        two services (or replicas) share a port
        ├── PortInUseError            a port of the stack is taken by another process
        ├── StackRunningError         `stack up` on a state dir whose supervisor is alive
        ├── StackNotRunningError      `stack down/status/logs` with no stack in the state dir
        └── StackStartError           a service did not become healthy, or the supervisor died
"""

from __future__ import annotations

from sandbox.errors import AgentRLError


class StackError(AgentRLError):
    """Base class of the stack's errors."""


class StackConfigError(StackError, ValueError):
    """The stack definition cannot be used as written."""


class UnknownServiceError(StackConfigError, LookupError):
    """A service name that the stack definition does not hold."""


class DependencyError(StackConfigError):
    """`depends_on` names a service that is missing or disabled, or forms a cycle."""


class PortClashError(StackConfigError):
    """Two services, or two replicas of one, would listen on the same port."""


class PortInUseError(StackError):
    """A port the stack needs is already bound by some other process."""


class StackRunningError(StackError):
    """A supervisor already runs a stack from this state directory."""


class StackNotRunningError(StackError):
    """No stack runs from this state directory."""


class StackStartError(StackError):
    """The stack could not be brought up (a service never became healthy, or the
    supervisor exited)."""
