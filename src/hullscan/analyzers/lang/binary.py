"""What the analyzers of compiled executables share (Go build info, Rust ``cargo auditable`` data, and the
helpers the Java analyzer borrows): a cheap candidate filter, the malformed-file result, and one
read-sniff-parse skeleton so each analyzer only says how to extract its payload and what it means."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.model import AnalysisResult, ScanWarning

if TYPE_CHECKING:  # the executable readers are imported by analyze(), when a candidate binary turns up
    from hullscan.analyzers.lang.gobuildinfo import Executable

#: executables smaller than this carry no module metadata worth reading
MIN_BINARY_SIZE = 256 * 1024


def malformed(file: FileInput, message: str) -> AnalysisResult:
    """A result carrying one ``malformed-file`` warning that names the file."""
    warning = ScanWarning(code="malformed-file", message=f"{file.path}: {message}", path=file.path, layer=file.layer)
    return AnalysisResult(warnings=[warning])


def is_candidate_binary(path: str, info: FileMeta, min_size: int) -> bool:
    """Cheap pre-filter shared by the binary analyzers: a regular executable file of plausible size
    (executable bit, or an ``.exe`` name: Windows layers carry no mode bits)."""
    return (info.mode & 0o111 != 0 or path[-4:].lower() == ".exe") and info.size >= min_size and info.kind == "file"


class ExecutableAnalyzer(Analyzer):
    """Executables (ELF, PE, Mach-O) that may embed package metadata.

    Subclasses set ``marker`` (bytes whose presence makes a parse failure worth a warning) and implement
    :meth:`extract` (the payload, or None when the binary has none) and :meth:`result`.
    """

    max_size = 512 * 1024 * 1024
    min_size: ClassVar[int] = MIN_BINARY_SIZE
    marker: ClassVar[bytes]
    what: ClassVar[str]  # names the payload in warnings, e.g. "Go build info"

    def path_hint(self) -> EntryHint:
        """Files of at least ``min_size`` bytes."""
        return EntryHint(min_size=self.min_size)

    def wants(self, path: str, info: FileMeta) -> bool:
        """Regular executable (or ``.exe``) files of at least ``min_size`` bytes."""
        return is_candidate_binary(path, info, self.min_size) and info.size <= self.max_size

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Parse the executable and hand its payload to :meth:`result`; None quickly for other files."""
        from hullscan.analyzers.lang.gobuildinfo import BinaryFormatError, parse_executable, sniff

        data = file.view()  # headers and a section or two are read, not the whole (often many MB) file
        if sniff(bytes(data[:4])) is None:
            return None
        try:
            exe = parse_executable(data)
            payload = self.extract(exe) if exe is not None else None
        except BinaryFormatError as exc:
            if self.marker in file.read():
                return malformed(file, f"corrupt {self.what}: {exc}")
            return None  # a broken executable without our payload: not ours to report
        if payload is None:
            return None
        return self.result(file, payload)

    def extract(self, exe: Executable) -> Any:
        """The embedded payload, or None."""
        raise NotImplementedError

    def result(self, file: FileInput, payload: Any) -> AnalysisResult | None:
        """Packages (or a warning) from the payload."""
        raise NotImplementedError
