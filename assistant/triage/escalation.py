"""Policy §4: a customer unsatisfied with the first answer may ask for a senior representative.

Flag such mail for a senior agent. A bare "manager" is not enough ("password manager"):
the customer has to ask for one, or say an earlier answer did not satisfy them.
"""

from __future__ import annotations

import re

_SENIOR = (
    r"(?:senior\s+(?:customer\s+service\s+)?(?:rep\w*|agent|staff|person|member)|supervisor|"
    r"manager|someone\s+(?:more\s+)?senior|someone\s+in\s+charge|higher[-\s]?up|team\s+lead\w*)"
)
ESCALATION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern, re.I | re.S))
    for reason, pattern in (
        (
            "asks for a senior representative",
            rf"(?:speak|talk|escalate|transfer|forward|pass|put|connect|get|want|need|"
            rf"demand|request|ask(?:ing)?\s+for)\s+(?:\w+\s+){{0,5}}{_SENIOR}",
        ),
        (
            "asks for a senior representative",
            rf"{_SENIOR}\s+(?:\w+\s+){{0,3}}(?:review|look\s+at|call|contact|handle)",
        ),
        ("asks to escalate", r"\bescalat(?:e|ion|ing)\b"),
        (
            "unsatisfied with an earlier answer",
            r"(?:not|un|dis)\s?satisfied\s+with\s+(?:the|your|this|that)\s+(?:\w+\s+){0,2}"
            r"(?:answer|response|reply|resolution|solution|outcome)",
        ),
        (
            "unsatisfied with an earlier answer",
            r"(?:your|the)\s+(?:previous|last|earlier|first|initial)\s+(?:answer|response|reply|email)\s+"
            r"(?:\w+\s+){0,3}(?:did\s*n[o']t|does\s*n[o']t|was\s*n[o']t|is\s*n[o']t|not)",
        ),
        (
            "unsatisfied with an earlier answer",
            r"(?:canned|copy[-\s]paste|generic|useless|unhelpful)\s+(?:answer|response|reply)",
        ),
        (
            "asks for a senior representative (es/pt)",
            r"(?:hablar|falar)\s+con?\s+(?:\w+\s+){0,2}(?:supervisor|gerente|responsable|"
            r"superior|encargad[oa])|(?:no|não)\s+(?:estoy|estou)\s+satisfech[oa]|"
            r"insatisfeit[oa]\s+com\s+a\s+resposta",
        ),
        (
            "asks for a senior representative (fr)",
            r"(?:parler|m'adresser)\s+à\s+(?:\w+\s+){0,2}(?:responsable|supérieur|superviseur)|"
            r"pas\s+satisfaite?\s+de\s+(?:votre|la)\s+réponse|escalader",
        ),
        (
            "asks for a senior representative (de)",
            r"(?:Vorgesetzte\w*|Teamleit\w*|Verantwortliche\w*)\s+(?:\w+\s+){0,3}"
            r"(?:sprechen|kontaktieren)|nicht\s+zufrieden\s+mit\s+(?:Ihrer|der|eurer)\s+Antwort|"
            r"eskalier\w*",
        ),
        (
            "asks for a senior representative (it)",
            r"parlare\s+con\s+(?:\w+\s+){0,2}(?:responsabile|supervisore|superiore)|"
            r"non\s+(?:sono\s+)?soddisfatt[oa]\s+(?:della|dalla)\s+(?:vostra\s+)?risposta",
        ),
        (
            "asks for a senior representative (nl)",
            r"(?:spreken|praten)\s+met\s+(?:\w+\s+){0,2}(?:leidinggevende|manager|supervisor)|"
            r"niet\s+tevreden\s+met\s+(?:het|jullie|uw)\s+(?:\w+\s+)?(?:antwoord|reactie)|escaleren",
        ),
    )
)


def detect_escalation(text: str) -> str | None:
    """The reason the customer wants a senior agent, or None."""
    for reason, pattern in ESCALATION_PATTERNS:
        if pattern.search(text):
            return reason
    return None
