"""The ticket a hand-off sends: who asked, where, a note, and the conversation's transcript.
Its JSON form is the webhook body; its text form the email and issue body."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_TURN_TEXT = 4_000  # characters of one question or answer in a ticket


@dataclass(frozen=True)
class TranscriptTurn:
    question: str
    answer: str
    cited_urls: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # names

    def as_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answer": self.answer,
            "cited_urls": self.cited_urls,
            "attachments": self.attachments,
        }


@dataclass(frozen=True)
class Ticket:
    handoff_id: int
    thread_id: str
    assistant: str
    email: str
    note: str
    page_url: str | None
    transcript: list[TranscriptTurn]

    @property
    def subject(self) -> str:
        """The latest question (the one the reader was left with), shortened."""
        latest = self.transcript[-1].question if self.transcript else "a documentation question"
        latest = " ".join(latest.split())
        return f"Docs question: {latest[:80]}{'…' if len(latest) > 80 else ''}"

    def as_json(self) -> dict[str, object]:
        return {
            "handoff_id": self.handoff_id,
            "thread_id": self.thread_id,
            "assistant": self.assistant,
            "email": self.email,
            "note": self.note,
            "page_url": self.page_url,
            "transcript": [turn.as_json() for turn in self.transcript],
        }

    def as_text(self) -> str:
        """The plain-text transcript (email body, issue body, ticket comment)."""
        lines = [
            f"From: {self.email}",
            f"Assistant: {self.assistant}",
            f"Conversation: {self.thread_id}",
            f"Page: {self.page_url or '(not known)'}",
            "",
            "Note:",
            self.note or "(none)",
            "",
            "Transcript:",
        ]
        for number, turn in enumerate(self.transcript, start=1):
            lines += ["", f"Q{number}: {turn.question}", f"A{number}: {turn.answer}"]
            lines += [f"  source: {url}" for url in turn.cited_urls]
            lines += [f"  attachment: {name}" for name in turn.attachments]
        return "\n".join(lines) + "\n"
