"""Argument parsing a person expects: free text that starts with ``-`` is text, not an option."""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand


def _option_names(command: TyperCommand, ctx: Any) -> dict[str, bool]:
    """Each option name of ``command``, and whether it takes a value."""
    names: dict[str, bool] = {}
    for param in command.get_params(ctx):
        if param.param_type_name != "option":
            continue
        takes_value = not getattr(param, "is_flag", False) and not getattr(param, "count", False)
        for name in (*param.opts, *param.secondary_opts):
            names[name] = takes_value
    return names


def _is_text(token: str, names: dict[str, bool]) -> bool:
    if not token.startswith("-") or token in ("-", "--"):
        return False
    if any(ch.isspace() for ch in token):
        return True  # "-sms mfa": no option holds a space
    return not token.startswith("--") and token.split("=", 1)[0] not in names


class PlainCommand(TyperCommand):
    """A command whose usage line names its arguments plainly: ``[OPTIONS] TABLE``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage pieces without the braces Typer puts around required arguments."""
        return [
            piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
            for piece in super().collect_usage_pieces(ctx)
        ]


class QuestionCommand(PlainCommand):
    """A command whose argument is a question: ``data search "-sms mfa"`` needs no ``--``.

    A token that starts with one ``-`` and is none of the command's short options, or that holds
    a space, is moved behind ``--`` so the parser reads it as the argument. Unknown ``--long``
    options still fail as usage errors.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Move text that looks like an option behind ``--``, then parse as usual."""
        if "--" not in args:
            names = _option_names(self, ctx)
            kept: list[str] = []
            text: list[str] = []
            expects_value = False
            for token in args:
                if not expects_value and _is_text(token, names):
                    text.append(token)
                    continue
                kept.append(token)
                expects_value = not expects_value and names.get(token, False)
            if text:
                args = [*kept, "--", *text]
        return list(super().parse_args(ctx, args))
