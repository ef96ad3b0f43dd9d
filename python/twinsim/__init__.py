"""twinsim: a digital-twin engine with a what-if simulator.

Compile DTDL models and explore them::

    import twinsim
    models = twinsim.ModelSet.from_files("models/")
    models.interface("dtmi:example:Room;1").contents

The compiled engine lives in the private extension module ``twinsim._core``;
this package re-exports its public names.

Exceptions: ``TwinsimError`` is the base of everything twinsim raises for bad
input; ``ModelError`` (invalid or incomplete DTDL, with ``.errors`` and
``.unresolved``) and ``TwinsimIoError`` (a file that cannot be read; also an
``OSError``) derive from it.
"""

from ._core import (
    CommandPayload,
    Content,
    Diagnostic,
    Interface,
    ModelError,
    ModelSet,
    PropertySlot,
    Schema,
    Severity,
    TwinsimError,
    TwinsimIoError,
    __version__,
)

__all__ = [
    "CommandPayload",
    "Content",
    "Diagnostic",
    "Interface",
    "ModelError",
    "ModelSet",
    "PropertySlot",
    "Schema",
    "Severity",
    "TwinsimError",
    "TwinsimIoError",
    "__version__",
]
