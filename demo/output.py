"""The demo's timeline on a terminal: compact lines, colour only on a terminal, a spinner
while it waits, nothing but the outcome when quiet."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from typing import TextIO

# -- output --------------------------------------------------------------------------------


class Output:
    """The timeline: compact lines, colour only on a terminal, nothing but a summary when quiet."""

    def __init__(self, stream: TextIO, *, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.colour = self.tty and not os.environ.get("NO_COLOR") and not quiet
        self._lock = threading.Lock()
        self._spinner_text = ""

    def paint(self, text: str, style: str) -> str:
        codes = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
        return f"\033[{codes[style]}m{text}\033[0m" if self.colour else text

    def line(self, text: str = "") -> None:
        if self.quiet:
            return
        with self._lock:
            if self._spinner_text:
                self.stream.write("\r\033[K")
            self.stream.write(text + "\n")
            if self._spinner_text:
                self.stream.write(self._spinner_text)
            self.stream.flush()

    def always(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """A spinner with the elapsed time on a terminal; a plain note otherwise."""
        if self.quiet:
            yield
            return
        if not self.tty:
            self.line(self.paint(f"     … {what}", "dim"))
            yield
            return
        done = threading.Event()
        started = time.monotonic()

        def spin() -> None:
            for frame in itertools.cycle("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"):
                if done.wait(0.1):
                    break
                with self._lock:
                    elapsed = time.monotonic() - started
                    self._spinner_text = self.paint(f"     {frame} {what} {elapsed:4.1f} s", "dim")
                    self.stream.write("\r\033[K" + self._spinner_text)
                    self.stream.flush()

        spinner = threading.Thread(target=spin, daemon=True)
        spinner.start()
        try:
            yield
        finally:
            done.set()
            spinner.join()
            with self._lock:
                self._spinner_text = ""
                self.stream.write("\r\033[K")
                self.stream.flush()
