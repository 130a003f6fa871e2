"""Prompt formats of a program: DSPy's ChatAdapter, or a lean adapter that sends the same content in fewer tokens.

ChatAdapter frames every field with ``[[ ## name ## ]]`` markers and describes the fields and the output
structure in the system turn: for a one-number answer that is most of the prompt (the knn program's first
question was 2,263 characters against 330 for the engineered prompt). The lean adapter renders the
instructions as the system turn, each demo as a user turn (one ``Field: value`` line per input, the question
last and bare) and an assistant turn holding the bare answer, and the asked inputs as the last user turn. The
answer is read exactly from log-probabilities either way; only ChatAdapter needs its answer marker prefilled.
"""

from __future__ import annotations

from typing import Any

import dspy

from ..errors import CulturalignError
from . import PROMPT_FORMATS

CHAT_ANSWER_MARKER = "[[ ## answer ## ]]\n"


class LeanAdapter(dspy.Adapter):
    """Compact chat turns with no field markers; the completion is the (single) output field's value."""

    def format_field_description(self, signature) -> str:
        return ""

    def format_field_structure(self, signature) -> str:
        return ""

    def format_task_description(self, signature) -> str:
        return signature.instructions

    def format_system_message(self, signature) -> str:
        return signature.instructions

    def format_user_message_content(
        self, signature, inputs: dict[str, Any], prefix: str = "", suffix: str = "", main_request: bool = False
    ) -> str:
        names = [n for n in signature.input_fields if inputs.get(n) not in (None, "")]
        lines = [prefix] if prefix else []
        for i, name in enumerate(names):  # the last input (the question) is the request itself: no label
            label = signature.input_fields[name].json_schema_extra.get("prefix", f"{name}:")
            lines.append(str(inputs[name]) if i == len(names) - 1 else f"{label} {inputs[name]}")
        return "\n".join(lines + ([suffix] if suffix else []))

    def format_assistant_message_content(
        self, signature, outputs: dict[str, Any], missing_field_message: str | None = None
    ) -> str:
        return "\n".join(str(outputs.get(n, missing_field_message or "")) for n in signature.output_fields)

    def parse(self, signature, completion: str) -> dict[str, Any]:
        outputs = list(signature.output_fields)
        if len(outputs) != 1:
            raise CulturalignError(
                f"the lean prompt format answers one output field; {signature.__name__} has "
                f"{len(outputs)}: use prompt format 'chat'"
            )
        return {outputs[0]: completion.strip()}


def adapter(prompt_format: str) -> dspy.Adapter:
    if prompt_format not in PROMPT_FORMATS:
        raise CulturalignError(f"unknown prompt format {prompt_format!r}; use one of {', '.join(PROMPT_FORMATS)}")
    return dspy.ChatAdapter() if prompt_format == "chat" else LeanAdapter()


def answer_prefill(prompt_format: str) -> str:
    """What the assistant turn starts with before the answer's first token."""
    return CHAT_ANSWER_MARKER if prompt_format == "chat" else ""
