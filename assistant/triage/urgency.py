"""Policy §3: which inquiries are urgent, and the rule that says so.

The policy names two urgent cases (lost packages marked as delivered, incorrect items
received); damaged items, double charges and taken-over accounts are of the same weight.
Patterns cover the languages our customers write in (en, es, fr, de, it, pt, nl), so urgent
mail is never missed because it is in Spanish.

How the rules work, and why they are written the way they are:

* The text is normalised once (`normalize`): lower case, accents removed (so "entregué" and
  "entregue", "beschädigt" and "beschadigt" match alike), typographic apostrophes made
  plain. Patterns are therefore written in lower case, without accents and without re.I,
  which keeps them fast (they run on every inquiry).
* Most rules pair two concepts close to each other rather than quoting whole sentences:
  a "marked as delivered" status near a "not received" statement, an arrival word near a
  damage word, a receipt verb near "instead of"...
* Vetoes keep ordinary mail normal: a conditional just before the match ("if an item
  arrives damaged", "si llega roto"), a customer's own mistake ("I ordered the wrong
  size"), wear after weeks of use, "damage-resistant", split payments, refunds of returns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from assistant.models import Urgency


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if base != char and base.isascii():
            table[code] = base
    table.update(
        {
            ord("ß"): "ss",
            ord("æ"): "ae",
            ord("œ"): "oe",
            ord("ø"): "o",
            ord("’"): "'",
            ord("‘"): "'",
            ord("`"): "'",
            ord("´"): "'",
            ord("\u00a0"): " ",
            ord("«"): " ",
            ord("»"): " ",
            ord("“"): " ",
            ord("”"): " ",
            ord("„"): " ",
            ord('"'): " ",
        }
    )
    return table


_FOLD = _build_fold_table()


@lru_cache(maxsize=256)
def normalize(text: str) -> str:
    """Lower case, accents removed, plain apostrophes: what every pattern here is written for.

    Cached: urgency and escalation rules both look at the same text."""
    folded = text.lower()
    if folded.isascii():  # the common case, and far faster than translate()
        return folded.replace('"', " ").replace("`", "'")
    return folded.translate(_FOLD)


@dataclass(frozen=True)
class UrgencyRule:
    name: str
    description: str
    # Fires when `pattern` matches, or when both concepts of a pair match within `width`
    # characters of each other (in either order). The rarer concept goes first: the second
    # is only looked for when the first is there.
    pattern: re.Pattern[str]
    pairs: tuple[tuple[re.Pattern[str], re.Pattern[str], int], ...] = ()
    # The first concept of a pair only counts where this holds (e.g. a status, not a wish).
    pair_context: Callable[[str, re.Match[str]], bool] | None = None
    # A match is ignored when `veto_before` matches the text just before it (it is anchored
    # at the end: a conditional or a customer's own mistake right before the match) or
    # `veto_near` matches the match itself with some context on both sides.
    veto_before: re.Pattern[str] | None = None
    veto_near: re.Pattern[str] | None = None

    def _vetoed(self, folded: str, start: int, end: int) -> bool:
        if self.veto_before and self.veto_before.search(folded, max(0, start - 80), start):
            return True
        return bool(
            self.veto_near and self.veto_near.search(folded, max(0, start - _NEAR), end + _NEAR)
        )

    def _anchor_ok(self, folded: str, match: re.Match[str]) -> bool:
        return self.pair_context is None or self.pair_context(folded, match)

    def fires(self, folded: str) -> bool:
        """Whether this rule alone fires on normalised text (`assess_urgency` does the same
        for all rules in one scan)."""
        if any(not self._vetoed(folded, *m.span()) for m in self.pattern.finditer(folded)):
            return True
        anchors = [
            [m.span() for m in first.finditer(folded) if self._anchor_ok(folded, m)]
            for first, _, _ in self.pairs
        ]
        return self._pairs_fire(folded, anchors)

    def _pairs_fire(self, folded: str, anchors: list[list[tuple[int, int]]]) -> bool:
        for (_, second, width), spans_a in zip(self.pairs, anchors):
            if not spans_a:
                continue
            for b_start, b_end in (m.span() for m in second.finditer(folded)):
                for a_start, a_end in spans_a:
                    if max(b_start - a_end, a_start - b_end) <= width and not self._vetoed(
                        folded, min(a_start, b_start), max(a_end, b_end)
                    ):
                        return True
        return False


_NEAR = 80


def _structure(pattern: str, start: int = 0):
    """(index, character, group depth after it) for every unescaped character outside a
    character class: enough to find top-level `|` and a group's closing paren."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            depth += (char == "(") - (char == ")")
            yield i, char, depth
        i += 1


def _alternatives(pattern: str) -> list[str]:
    """Split a pattern at its top-level `|`."""
    parts, start = [], 0
    for i, char, depth in _structure(pattern):
        if char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _matching_paren(pattern: str, start: int) -> int:
    for i, char, depth in _structure(pattern, start):
        if char == ")" and depth == 0:
            return i
    raise ValueError(pattern)


def _expand(alternative: str) -> list[str]:
    """`(?:x|y)rest` -> `xrest`, `yrest` (when the group is not quantified), recursively."""
    alternative = alternative.removeprefix(r"\b")
    if not alternative.startswith("(?:"):
        return [alternative]
    end = _matching_paren(alternative, 0)
    rest = alternative[end + 1 :]
    inner = _alternatives(alternative[3:end])
    if rest[:1] in ("?", "*", "+", "{"):
        return [alternative]
    if len(inner) * len(rest) > 4000:  # too long to copy: keep the group, but as a trie
        return [f"(?:{_trie([e for a in inner for e in _expand(a)])}){rest}"]
    return [e for a in inner for e in _expand(a + rest)]


def _trie(alternatives: list[str]) -> str:
    """Group alternatives by their first letter: `abc|abd|xyz` -> `a(?:bc|bd)|xyz`.

    Python's regex engine tries the alternatives of a group one by one at every position;
    grouped, it compares one letter per group instead of one per alternative."""
    groups: dict[str, list[str]] = {}
    others: list[str] = []
    for alternative in alternatives:
        head = alternative[:1]
        if head.isalnum() and head.isascii() and alternative[1:2] not in ("?", "*", "+", "{"):
            groups.setdefault(head, []).append(alternative[1:])
        else:
            others.append(alternative)
    parts = [
        head + (rests[0] if len(rests) == 1 and "|" not in rests[0] else f"(?:{_trie(rests)})")
        if len(rests) > 1 or rests[0]
        else head
        for head, rests in groups.items()
    ]
    return "|".join(parts + others)


def _c(*patterns: str) -> re.Pattern[str]:
    """One compiled regex for all alternatives, each starting at a word boundary.

    Written for speed (the rules run on every inquiry): one `\b` in front lets the engine
    skip the middle of words, and the alternatives are grouped by their leading letters."""
    alternatives = [e for p in patterns for a in _alternatives(p) for e in _expand(a)]
    return re.compile(rf"\b(?:{_trie(alternatives)})", re.S)


def _rule(
    name: str,
    description: str,
    patterns: tuple[str, ...],
    pairs: tuple[tuple[str, str, int], ...] = (),
    pair_context: Callable[[str, re.Match[str]], bool] | None = None,
    veto_before: str | None = None,
    veto_near: str | None = None,
) -> UrgencyRule:
    return UrgencyRule(
        name,
        description,
        _c(*patterns),
        tuple((_c(a), _c(b), width) for a, b, width in pairs),
        pair_context,
        re.compile(rf"(?:{veto_before})\Z", re.S) if veto_before else None,
        re.compile(veto_near, re.S) if veto_near else None,
    )


# Up to n words of any kind / words that are not a negation or "not yet".
_W = r"(?:\S+\s+)"
_NEG_WORDS = (
    r"not|no|never|yet|be|nicht|noch|nie|niet|nog|nooit|non|ancora|mai|nao|ainda|nunca|pas|"
    r"encore|jamais|todavia|aun|sera|wird|will"
)
_WP = rf"(?:(?!(?:{_NEG_WORDS})\b)(?!\S*n't\b)\S+\s+)"

# A conditional or a question in general terms just before the match: "if an item arrives
# damaged", "what happens when...", "si llega roto", "se arriva danneggiato", "falls...".
_CONDITIONAL = (
    r"(?:\bif|\bwhether|\bin\s+case|\bwhat\s+happens\s+when|\bsuppose|\bsi(?!\s+(?:e|sono|era|erano)\b)|"
    r"\ben\s+caso\s+de\s+que|"
    r"\bau\s+cas\s+ou|\bfalls|\bwenn|\bsofern|\bnel\s+caso|\bcaso|\bindien|\bmocht|\bstel\s+dat|"
    r"\bwat\s+als|\bse\s+(?:o|a|os|as|um|uma|il|la|lo|l'|un|una|uno|i|le|gli|meu|minha|mio|mia)|"
    r"\bals\s+(?:mijn|het|de|een|er|ik|u|jullie))"
    r"\s+(?:(?!(?:but|pero|mais|aber|ma|mas|maar)\b)\S+\s+){0,6}"
)

# ---------------------------------------------------------------- lost, marked delivered
_DELIV_WORD = (
    r"(?:delivered|entregad[oa]s?|entrego|entregaron|entregues?|livree?s?\b|distribuee?\b|"
    r"deposee?\b|zugestellt|geliefert|ausgeliefert|abgegeben|ubergeben|consegnat[oaie]|"
    r"recapitat[oaie]|bezorgd|afgeleverd|geleverd|afgegeven|signed\s+for|handed\s+(?:to|over)|"
    r"left\s+(?:in\s+(?:a|the)\s+safe\s+place|at\s+(?:the|my|your)\s+(?:\S+\s+)?(?:door|porch|"
    r"reception|mailbox|letterbox|gate)|with\s+(?:a|my|the)\s+neighbou?r|in\s+(?:the|my)\s+"
    r"(?:mailbox|letterbox|porch|garden|shed|locker))|safe\s+place|"
    # dropped off / left somewhere / handed to a neighbour, in every language
    r"dropped\s+off|left\s+(?:(?:at|by|outside|on|in\s+front\s+of|next\s+to|behind|with)\s+"
    r"(?:(?:the|my|your|our|a|an)\s+)?(?:\S+\s+)?(?:door\w*|porch|step|steps|reception|front|"
    r"mail\s?room|mailbox|letterbox|gate|garage|lobby|neighbou?rs?|concierge|building|house|"
    r"entrance)|in\s+(?:a|the|my)\s+(?:parcel\s+)?(?:locker|shop|pick-?up\s+point))|"
    r"signed\s+by|proof\s+of\s+delivery|(?:delivery|driver|courier|drop-?off)\s+(?:photo|picture|"
    r"image|pic)|photo\s+(?:of\s+(?:the\s+)?delivery|shows\s+(?:a|the|my)\s+(?:package|parcel|box))|"
    r"(?:has|have|had)\s+(?:been\s+)?arrived(?!\s+(?:at|in)\s+(?:the\s+|a\s+)?(?:local\s+)?"
    r"(?:depot|hub|facility|sorting|post|customs|distribution|warehouse|country|uk|us)\b)|"
    r"dejad[oa]\s+(?:en|con|a)|foto\s+(?:del?\s+(?:la\s+)?(?:entrega|repartidor))|"
    r"remise?\s+(?:au|a|en)|laisse\w*\s+(?:devant|chez|a|au|dans)|photo\s+de\s+(?:la\s+)?livraison|"
    r"abgestellt|abgelegt|hinterlegt|zustellfoto|lieferfoto|foto\s+(?:der|von\s+der)\s+zustellung|"
    r"lasciat[oa]\s+(?:davanti|al|alla|presso|dal|dai|nella|nel)|foto\s+(?:della|di)\s+consegna|"
    r"deixad[oa]\s+(?:na|no|com|em)|foto\s+da\s+entrega|"
    r"achtergelaten|bezorgfoto|foto\s+van\s+de\s+bezorging)"
    r"(?!\s+(?:worden|werden|wird|be|ser|sera|etre|sara|essere))"
)
# Evidence of a delivery by itself (a photo, a signature): no status cue needed before it.
_DELIV_PROOF = re.compile(
    r"(?:signed\s+by|proof|delivery|driver|courier|drop|photo|foto|zustellfoto|lieferfoto|"
    r"bezorgfoto)"
)
# "has arrived" is only a status when the shop or the carrier says so.
_ARRIVED_CUE_BEFORE = re.compile(
    r"\b(?:app|tracking|tracker|notification|e-?mail|text|sms|message|status|says|said|shows|"
    r"claims|congratulat\w*|supposedly|apparently|according|website|site)\b[^.!?]{0,80}\Z",
    re.S,
)
_DELIV_CUE = (
    r"(?:marked|marks?|shows?|showing|shown|says?|said|saying|listed|status|tracking|tracker|"
    r"confirm\w*|claims?|claiming|indicates?|states?|stated|according|supposedly|apparently|"
    r"allegedly|notification|was|were|been|as|got|it's|its|"
    r"figura|aparece|consta|pone|dice|dicen|marca|marcado|sale|indica|estado|segun|como|fue|"
    r"sido|seguimiento|indique|marque|affiche|dit|statut|comme|selon|suivi|ete|est|"
    r"als|laut|zufolge|angeblich|wurde|ist|sei|zeigt|steht|markiert|"
    r"risulta|segna|stato|segnato|secondo|"
    r"diz|mostra|foi|segundo|"
    r"staat|volgens|is|werd)"
)
# Not "not marked as delivered", "will be delivered" (checked just before the status match).
_NEG_BEFORE = (
    r"(?:\b(?:not|no|nicht|niet|non|nao|pas|nie|nooit|never|yet|noch|nog|ancora|ainda|encore|"
    r"todavia|aun|nunca|jamais|mai)|n't)\s+(?:[^\s.,;:!?]+\s+){0,2}\Z|\bbe\s+\Z|"
    r"\b(?:before|until|once|antes\s+de\s+que|avant\s+qu'|bevor|prima\s+che|voordat)\s+"
    r"(?:\S+\s+){0,2}\Z"
)
# "delivered" counts as a status when a status cue comes shortly before it ("tracking says
# it was delivered", "figura como entregado", "als zugestellt markiert") with no negation
# in between, or a time right after it ("delivered yesterday at 2pm", "entregue hoje").
# Checked around each "delivered" found (rare) instead of scanning for the cues (common).
_DELIV_CUE_BEFORE = re.compile(rf"\b{_DELIV_CUE}[\s:'(]+{_WP}{{0,8}}?[\s:'(]*\Z", re.S)
_DELIV_WHEN = re.compile(
    r"\s+(?:yesterday|today|this|last|on\s+\w|at\s+\d|\d|ayer|hoy|"
    r"el\s+dia|hier|aujourd'hui|le\s+\d|ce\s+matin|gestern|heute|am\s+\d|ieri|oggi|il\s+\d|"
    r"stamattina|ontem|hoje|no\s+dia|gisteren|vandaag|op\s+\d)",
    re.S,
)
_NEG_BEFORE_RE = re.compile(_NEG_BEFORE, re.S)


def _delivered_status(folded: str, match: re.Match[str]) -> bool:
    start, end = match.span()
    if _NEG_BEFORE_RE.search(folded, max(0, start - 40), start):
        return False
    if _DELIV_PROOF.match(match.group()):
        return True
    if match.group().endswith("arrived"):
        return bool(_ARRIVED_CUE_BEFORE.search(folded, max(0, start - 100), start))
    return bool(
        _DELIV_WHEN.match(folded, end)
        or _DELIV_CUE_BEFORE.search(folded, max(0, start - 120), start)
    )


_NOT_RECEIVED = (
    # en
    r"\b(?:never|not|haven't|hasn't|didn't|don't|doesn't|isn't|wasn't|aren't|weren't)\s+"
    r"(?:\S+\s+){0,3}?(?:receiv|arriv|got|get|gotten|come|came|show|see|seen|found|find|there|"
    r"here|turn|mine|anywhere|in\s+my)|"
    r"\bnothing\b|\bnobody\b|\bno\s+one\b|\bno\s+(?:package|parcel|box|sign|trace|delivery)|"
    r"\b(?:can't|cannot|couldn't|unable\s+to)\s+(?:\S+\s+){0,2}?find|\bstolen\b|\bmissing\b|"
    r"\bwrong\s+(?:address|house|door|building|flat|apartment|person|street|location)|"
    r"\b(?:not|isn't|wasn't|aren't)\s+(?:my|mine|our|ours)\b|\bwhere\s+is\s+(?:it|my)|"
    r"\b(?:was|is|were|are)\s+(?:completely\s+)?empty\b|\b(?:vaci[oa]|vide|leer|vuot[oa]|vazi[oa]|leeg)\b|"
    r"\bno\s+(?:record|knock|sign)\b|\bnone\s+of\b|\bwhere(?:\s+are|'re|\s+is|'s|s)\s+(?:it|my|the|they)\b|"
    r"\b(?:different|another|someone\s+else's|somebody\s+else's|not\s+my)\s+(?:door|house|porch|"
    r"building|address|flat|home|step)|\bmy\s+door\s+is\b|\bexcept\s+(?:it|they)\s+(?:has|have|"
    r"did|is|are|was)\s*(?:n't|\s+not)\b|"
    # es
    r"\bninguno\s+de|\bdonde\s+(?:esta|estan)\s+(?:mi|el|la|los|las)|\b(?:otra|otro)\s+"
    r"(?:puerta|portal|casa|edificio)|\bno\s+es\s+(?:el|la)\s+mi[oa]\b|"
    r"\b(?:no|nunca|ni)\s+(?:\S+\s+){0,3}?(?:recib|lleg|esta\b|hay\b|tengo|aparec|encuentr|"
    r"encontr|vi\b|visto)|\bnada\b|\bnadie\b|ni\s+rastro|\bperdid|\brobad|otra\s+direccion|"
    r"direccion\s+equivocada|"
    # fr
    r"\b(?:rien|jamais)\b|aucune?\s+(?:colis|paquet|trace|livraison)|personne\s+n'|"
    r"\bpas\s+(?:\S+\s+){0,3}?(?:recu|arrive|trouve|vu\b|la\b|ici)|introuvable|\bvole\b|"
    r"mauvaise\s+adresse|\baucune?\s+de|\bou\s+(?:sont|est)\s+(?:mon|ma|mes|le|la|les)\b|"
    r"\bautre\s+(?:porte|maison|immeuble)|"
    # de
    r"\bnie\b|\bnichts\b|\bniemand|\bnirgend|\bkein(?:e|en|er)?\b|"
    r"\bnicht\s+(?:\S+\s+){0,3}?(?:erhalten|angekommen|bekommen|da\b|hier|gefunden|auffindbar|"
    r"zu\s+finden|im\s+briefkasten|bei\s+mir)|gestohlen|verschwunden|falsche\w*\s+adresse|"
    r"\bwo\s+(?:ist|sind|bleibt|bleiben)\s+(?:mein|das|die)|\bandere\w*\s+(?:\S+\s+)?(?:tur|haus|"
    r"hausnummer)|\bnicht\s+meine?\s+(?:tur|haus)|"
    # it
    r"\bmai\b|\bnessun|\bniente\b|\bnulla\b|"
    r"\bnon\s+(?:\S+\s+){0,3}?(?:ricevut|arrivat|trovat|c'e|visto)|rubat|smarrit|"
    r"indirizzo\s+sbagliato|\bdove\s+(?:sono|e)\s+(?:il|la|i|le|mio|mia|miei|mie)\b|"
    r"\baltr[ao]\s+(?:porta|casa|portone|palazzo)|"
    # pt
    r"\bnenhum|\bninguem|\bnao\s+(?:\S+\s+){0,3}?(?:receb|cheg|tem\b|esta\b|encontr|vi\b|apareceu)|"
    r"roubad|extraviad|endereco\s+errado|\bonde\s+(?:esta|estao)\b|\boutr[ao]\s+(?:porta|casa|"
    r"predio)|"
    # nl
    r"\bniets\b|\bniks\b|\bnooit\b|\bgeen\s+(?:pakket|pakje|doos|spoor)|\bnergens|"
    r"\bniet\s+(?:\S+\s+){0,3}?(?:ontvangen|aangekomen|gekregen|gezien|gevonden|hier|thuis|"
    r"in\s+de\s+brievenbus|aangenomen)|gestolen|\bkwijt\b|verkeerde\s+adres|\bgeen\s+van\b|"
    r"\bwaar\s+(?:is|zijn|blijft)\s+(?:mijn|het|de)\b|\bandere\s+(?:deur|voordeur|huis)|"
    r"\bgeen\s+(?:\S+\s+){0,3}?(?:aangenomen|ontvangen|gekregen)"
)
_LOST = (
    r"\bdelivered\s+to\s+(?:the\s+|a\s+)?(?:wrong|another|different)\s+(?:address|house|door|person)|"
    r"\b(?:package|parcel|order|box|delivery)\s+(?:\S+\s+){0,3}?(?:was\s+|got\s+|has\s+been\s+)?"
    r"(?:lost|stolen)\b(?!\s*\?)",
    r"\b(?:paquete|pedido)\s+(?:\S+\s+){0,2}?(?:perdido|robado)|\bcolis\s+(?:\S+\s+){0,2}?"
    r"(?:perdu|vole)\b|\bpaket\s+(?:\S+\s+){0,3}?(?:verloren|gestohlen|verschwunden)|"
    r"\bpacco\s+(?:\S+\s+){0,2}?(?:perso|smarrito|rubato)|\bpacote\s+(?:\S+\s+){0,2}?"
    r"(?:perdido|roubado|extraviado)|\bpakket\s+(?:\S+\s+){0,2}?(?:kwijt|gestolen|verloren)(?!\s*\?)",
)
# "I haven't received my refund; the return was delivered to your warehouse" is not a lost
# parcel; "when will it be delivered? I haven't received a shipping email" neither.
_LOST_VETO_NEAR = (
    r"\b(?:i|we)\s+(?:\S+\s+)?(?:typed|entered|put|gave)\s+(?:in\s+)?(?:the\s+|a\s+)?wrong|"
    r"\brefund|\breturn(?:ed|s)?\b|warehouse|reembolso|devolu|rembourse|\bretour|erstattung|"
    r"rucksend|rimbors|\breso\b|devolucao|terugbetaling"
)

# ---------------------------------------------------------------- incorrect item
_PRODUCT_EN = (
    r"(?:item|size|colou?r|shoe|pair|product|order|model|style|clogs?|sandals?|sneakers?|boots?|"
    r"slides?|charms?|jibbitz|package|parcel|thing|one|design|pattern|version|foot|width|"
    r"shipment|article)"
)
_NOT_A_COUNT = (
    r"(?!\s*(?:two|three|2|3|dos|tres|deux|trois|zwei|drei|due|tre|dois|duas|twee|drie)\b)"
)
_INCORRECT = (
    # en
    rf"\bwrong\s+(?:\S+\s+){{0,2}}?{_PRODUCT_EN}",
    r"\b(?:sent|shipped|received|got|delivered|gave)\s+(?:me\s+|us\s+)?(?:the|a|an|some)\s+wrong\b",
    r"\bnot\s+what\s+(?:i|we)\s+(?:ordered|bought|purchased|paid\s+for)|"
    r"\b(?:isn't|is\s+not|aren't|are\s+not|wasn't|weren't|not)\s+(?:the|what|which|an?)\s+"
    r"(?:[^\s.!?]+\s+){0,3}?(?:that\s+)?(?:i|we)\s+(?:had\s+)?(?:ordered|bought|purchased|"
    r"selected|chose|picked)",
    r"\b(?:(?:you|they)\s+sent|(?:was|were|been)\s+sent|sent\s+(?:me|us)|(?:i|we)\s+got|received|"
    r"came|arrived|delivered|shipped\s+(?:me|us)|gave\s+me)\b.{0,80}?\binstead\s+of\b"
    rf"{_NOT_A_COUNT}|"
    r"\binstead\s+of\s+(?:\S+\s+){0,6}?(?:i|we)\s+(?:had\s+)?(?:ordered|bought|purchased)",
    r"\b(?:received|got|sent\s+me|came|arrived)\b.{0,100}?\b(?:but|while|whereas|although|when)\s+"
    r"(?:i|we)\s+(?:had\s+|have\s+|actually\s+)?(?:ordered|bought|purchased|selected|chose)\b"
    r"(?!\s+(?:the\s+|a\s+)?wrong)",
    r"\bordered\b.{0,80}?(?:[,;.]|\band\b|\bbut\b)\s+(?:i\s+|we\s+)?(?:received|got|was\s+sent|were\s+sent|"
    r"you\s+sent|they\s+sent|came|arrived)\s+(?!(?:them|it|my|our|the\s+(?:order|package|parcel|"
    r"box|shoes|clogs|item)|today|yesterday|tomorrow|on|in|within|after|before|by|just|safely|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|last|this|next|\d+\s+days?|"
    r"on\s+time|quickly|fast|late|an?\s+(?:email|message|"
    r"confirmation|notification|pair\s+that))\b)",
    r"\btwo\s+(?:left|right)\s+(?:shoes|feet|foot|clogs|sandals|sneakers|ones)|"
    r"\bboth\s+(?:\S+\s+){0,3}?(?:left|right)[\s-](?:foot|feet|shoes?)|"
    r"\bmismatched\s+(?:pair|sizes|shoes|colou?rs)|\bmixed[\s-]?up\s+(?:\S+\s+){0,2}?(?:order|item|size|shipment)",
    # "two left shoes", "two left-footed clogs", "both for the same foot"
    r"\b(?:two|2)\s+(?:\S+\s+)?(?:left|right)(?:[\s-]+foot(?:ed)?)?\s+(?:shoes?|feet|foot|clogs?|"
    r"sandals?|sneakers?|ones|slides?|boots?)|\b(?:both|two)\s+(?:\S+\s+){0,3}?(?:for\s+)?the\s+"
    r"same\s+foot",
    # someone else's parcel in the box
    r"\b(?:someone|somebody)\s+else's\s+(?:\S+\s+)?(?:order|parcel|package|shoes|items?|stuff|"
    r"clogs|sandals|sneakers)|\b(?:another|a\s+different|other)\s+(?:customer|person)'s\s+"
    r"(?:order|parcel|package|name)",
    # "the colour is wrong", "the size was wrong"
    r"\b(?:colou?r|size|model|style|item|product|design|shade)s?\s+(?:(?:i|we)\s+(?:received|got)\s+)?"
    r"(?:is|are|was|were)\s+(?:completely\s+|totally\s+|all\s+|just\s+|also\s+)?(?:wrong|incorrect)"
    r"\b(?!\s+(?:\S+\s+){0,2}?(?:for\s+me|on\s+me|for\s+my))",
    r"\b(?:completely|totally|entirely)\s+different\s+(?:products?|items?|shoes?|models?|colou?rs?|"
    r"sizes?|styles?|pairs?)",
    # "I ordered X and what arrived is Y", "you sent me X. I ordered Y"
    r"\b(?:i|we)\s+(?:had\s+)?(?:ordered|bought|paid\s+for)\b.{0,80}?\b(?:what|which)\s+(?:\S+\s+)?"
    r"(?:arrived|came|i\s+got|we\s+got|i\s+received|we\s+received|you\s+sent|was\s+delivered|"
    r"showed\s+up|turned\s+up)\s+(?:is|was|were|are)\b",
    r"\b(?:sent|shipped|delivered|gave)\s+(?:me|us)\s+(?!(?:an?\s+|the\s+)?(?:e-?mail|confirmation|"
    r"link|code|message|tracking|label|refund|reply|answer|invoice|receipt|notification)\b)"
    r"[^.!?]{1,60}[.;!]\s+(?:but\s+)?(?:i|we)\s+(?:had\s+)?(?:ordered|bought|paid\s+for)\b"
    r"(?!\s+(?:the\s+|a\s+)?wrong)",
    r"\b(?:box|package|parcel|carton)\s+(?:had|contained|contains|has)\b.{0,80}?\b(?:but|while|"
    r"whereas|although|when)\s+(?:i|we)\s+(?:had\s+|have\s+|actually\s+)?(?:ordered|bought|"
    r"purchased|selected|chose)\b(?!\s+(?:the\s+|a\s+)?wrong)",
    r"\b(?:ordered|bought)\b[^.!?]{0,60}\b(?:they|it|these|those|the\s+\S+)\s+(?:came|arrived|were\s+"
    r"delivered|showed\s+up|turned\s+up)\s+in\s+(?!(?:\d+\s+|a\s+few\s+|two\s+|three\s+)?(?:days?|"
    r"weeks?|hours?|time|perfect|great|good|excellent|one\s+piece|(?:an?|the|their|its)\s+"
    r"(?:\S+\s+)?(?:box|boxes|bag|bags|parcel|package|envelope|mail|post|packaging))\b)[a-z]",
    # es
    r"\b(?:articulo|producto|talla|color|modelo|pedido|par|numero|zapat\w+|sandalia\w*|zueco\w*|"
    r"zapatilla\w*)\s+(?:\S+\s+)?(?:equivocad|incorrect|erroneo|errone)",
    r"\b(?:dos|ambos|ambas|los\s+dos|las\s+dos)\s+(?:\S+\s+){0,2}?(?:del?\s+pie\s+(?:derecho|"
    r"izquierdo)|(?:derech|izquierd)[oa]s)\b|\b(?:pedido|paquete|zapatos|zapatillas|cosas)\s+de\s+"
    r"(?:otra\s+persona|otro\s+cliente|alguien\s+mas)|"
    r"\bequivocaron|\b(?:os|se|te)\s+(?:han|habeis|habian)\s+(?:equivocado|confundido)|"
    r"\bno\s+es\s+lo\s+que\s+(?:yo\s+)?(?:pedi|compre|he\s+pedido|encargue|habia\s+pedido)",
    r"\b(?:pedi|compre|encargue|he\s+pedido|habia\s+pedido)\b.{0,80}?\b(?:y|pero)\s+(?:me\s+)?"
    r"(?:han\s+|habeis\s+|ha\s+)?(?:mandado|enviado|llegado|llego|llegaron|recibi|enviaron|"
    r"mandaron|mandasteis|enviasteis|vino|vinieron)\s+"
    r"(?!(?:hoy|ayer|rapid|pronto|bien|a\s+tiempo|tarde|enseguida|en\s+\d|el\s+(?:paquete|pedido)|"
    r"la\s+caja|rot|danad|defectuos|con\b|sin\b)\w*)\w",
    r"\b(?:mandado|enviado|llegado|llego|llegaron|recibi|mandaron|enviaron|vino|vinieron)\b.{0,80}?"
    rf"\ben\s+(?:vez|lugar)\s+de\b{_NOT_A_COUNT}",
    # fr
    r"\bmauvaise?s?\s+(?:article|produit|taille|couleur|modele|colis|paire|pointure|chaussure\w*|"
    r"commande|reference|sandale\w*|sabot\w*|mod\w+)",
    r"\bpas\s+(?:la\s+bonne|le\s+bon|les\s+bonnes|les\s+bons)\s+(?:taille|couleur|modele|article|"
    r"pointure|produit|colis|paire|chaussure\w*)",
    r"\bdeux\s+(?:\S+\s+){0,2}?(?:du\s+pied\s+(?:gauche|droit)|(?:gauche|droit)e?s)\b|\b(?:commande|colis|"
    r"chaussures|affaires)\s+(?:de\s+quelqu'un\s+d'autre|d'un\s+autre\s+client|d'une\s+autre\s+"
    r"personne)|\b(?:taille|couleur|pointure|modele|article|produit)\s+(?:\S+\s+)?(?:n'est|n'etait|"
    r"ne\s+sont|ne\s+sont)\s+pas\s+(?:la|le|les)\s+bon(?:ne)?s?\b|"
    r"\bpas\s+ce\s+que\s+(?:j'ai|j'avais)\s+commande|\berreur\s+(?:de|dans)\s+(?:la\s+|ma\s+)?"
    r"(?:commande|preparation|taille|colis|envoi)",
    rf"\b(?:recu|envoye|arrive|livre|eu)\b.{{0,80}}?\bau\s+lieu\s+d[a-z']*(?![a-z']){_NOT_A_COUNT}|"
    r"\bau\s+lieu\s+d.{0,60}?commande",
    r"\bj'(?:ai|avais)\s+commande\b.{0,80}?\b(?:et|mais)\s+(?:j'ai\s+recu|on\s+m'a\s+(?:envoye|livre)|"
    r"vous\s+m'avez\s+(?:envoye|livre)|j'ai\s+eu|c'est|ce\s+sont|il\s+y\s+a|je\s+recois|"
    r"je\s+me\s+retrouve\s+avec)\s+(?!(?:mon|ma|le|la)\s+(?:colis|commande|paquet)|rapidement|hier)",
    # de
    r"\bfalsche[nrsm]?\s+(?:\S+\s+)?(?:artikel|produkt|grosse|farbe|schuh\w*|modell|paket|ware|"
    r"paar|sandale\w*|sneaker\w*|clogs?|lieferung|teil|nummer|bestellung|sachen|sendung)"
    r"(?!\s+(?:\S+\s+)?(?:bestellt|gekauft|ausgewahlt))",
    r"\b(?:statt|anstatt|anstelle)\b.{0,80}?\b(?:kam|kamen|bekam|erhielt|geliefert|geschickt|"
    r"zugeschickt|habe\s+ich|hab\s+ich|lag|lagen|war\b|waren|ist\s+(?:ein|eine)|sind)\b",
    r"\bnicht\s+(?:das|die|den|dem|was)\s+(?:\S+\s+){0,3}?(?:ich\s+)?(?:bestellt|gekauft)",
    r"\bzwei\s+(?:linke|rechte)\b|\bbeide\s+(?:\S+\s+){0,2}?(?:links|rechts|linke|rechte|fur\s+den\s+"
    r"(?:linken|rechten))\b|\b(?:bestellung|paket|sachen|schuhe)\s+(?:von\s+jemand\s+anderem|"
    r"eines\s+anderen\s+kunden|einer\s+anderen\s+person)|\bfremde\s+bestellung|"
    r"\b(?:farbe|grosse|modell|artikel)\s+(?:ist|sind|war|waren)\s+(?:\S+\s+)?falsch|"
    r"\b(?:farbe|grosse|modell)\s+stimmt\s+(?:\S+\s+)?nicht",
    r"\b(?:bestellt|gekauft)\s*[,;.]\s*(?:aber\s+|doch\s+)?(?:geliefert|geschickt|zugeschickt|"
    r"gekommen|angekommen|bekommen|erhalten)\s+(?:wurden|wurde|habe\s+ich|hab\s+ich|ist|sind|"
    r"haben\s+wir)\s+(?:(?:sie|es|er|mir|uns)\s+)?(?:aber\s+|jedoch\s+|dann\s+)?"
    r"(?:in|ein|eine|einen|die|der|das|grosse|\d)\b(?!\s+(?:\d+\s+)?(?:tag|woche|stund|minut))",
    r"\b(?:bestellt|gekauft)\s+(?:habe|hatte|hab)\s+ich\b.{0,80}?\b(?:angekommen|gekommen|geliefert|"
    r"bekommen|erhalten|geschickt|zugeschickt)\s+(?:ist|sind|wurde|wurden|habe\s+ich|hab\s+ich)\b|"
    r"\b(?:bestellt|gekauft)\s*,?\s+(?:habe\s+)?(?:und|aber|doch)\s+(?!(?:gestern|heute|schnell|"
    r"rechtzeitig|sie|es|die\s+lieferung|das\s+paket)\b).{0,60}?(?:bekommen|erhalten|geliefert|"
    r"geschickt|zugeschickt|kam\w*)",
    # it
    r"\b(?:articolo|prodotto|taglia|colore|modello|paio|numero|misura|scarp\w+|sandal\w+|"
    r"zoccol\w+|pacco|ordine|pezzo)\s+(?:\S+\s+)?(?:sbagliat|errat)",
    r"\bho\s+ordinato\b.{0,80}?\b(?:e|ma)\s+(?:mi\s+)?(?:e|sono|hanno)\s+(?:arrivat|mandat|spedit|"
    r"consegnat|inviat)\w*\s+"
    r"(?!(?:ieri|oggi|in|presto|subito|velocemente|stamattina|stamani|dopo|solo|con|senza|"
    r"rott|danneggiat|difettos|il\s+pacco|l'ordine)\w*)\w",
    rf"\b(?:arrivat|ricevut|mandat|spedit|inviat)\w*\b.{{0,80}}?\binvece\s+d[a-z']*(?![a-z']){_NOT_A_COUNT}|"
    r"\bdue\s+(?:\S+\s+){0,2}?(?:sinistr|destr)[eia]\b|\b(?:ordine|pacco)\s+di\s+(?:qualcun\s+"
    r"altro|un\s+altro\s+cliente|un'altra\s+persona)|"
    r"\bnon\s+(?:e|sono)\s+(?:quell[oia]|cio)\s+che\s+(?:avevo|ho)\s+(?:ordinato|comprato|"
    r"acquistato|scelto|selezionato)",
    # pt
    r"\b(?:produto|item|artigo|tamanho|modelo|cor|numero|par|sapato\w*|sandalia\w*|tamanco\w*|"
    r"pedido|encomenda|tenis)\s+(?:\S+\s+)?(?:errad|trocad|incorret)",
    r"\b(?:pedi|encomendei|comprei)\b.{0,80}?\b(?:e|mas)\s+(?:me\s+)?(?:chegaram|chegou|recebi|"
    r"mandaram|enviaram|veio|vieram)\s+(?:um|uma|uns|umas|o|a|os|as|\d)\b"
    r"(?!\s+(?:pacote|encomenda|pedido|caixa)\b)",
    rf"\b(?:chegaram|chegou|recebi|mandaram|enviaram|veio|vieram)\b.{{0,80}}?\b(?:em\s+vez|ao\s+inves|"
    rf"no\s+lugar)\s+d[a-z']*(?![a-z']){_NOT_A_COUNT}|"
    r"\bnao\s+(?:e|era)\s+o\s+que\s+(?:eu\s+)?(?:pedi|encomendei|comprei)",
    r"\b(?:dois|duas|2)\s+(?:\S+\s+){0,2}?(?:do\s+pe\s+(?:esquerdo|direito)|"
    r"(?:esquerd|direit)[oa]s)\b|"
    r"\b(?:pedido|encomenda|pacote)\s+de\s+(?:outra\s+pessoa|outro\s+cliente)",
    # nl
    r"\bverkeerde\s+(?:\S+\s+)?(?:artikel|product|maat|kleur|schoen\w*|model|pakket|bestelling|"
    r"paar|item|sandal\w*|klomp\w*|sneaker\w*|spullen|ding)(?!\s+(?:\S+\s+)?(?:besteld|gekocht))",
    r"\bbesteld\b.{0,60}?\b(?:en|maar)\s+(?:ik\s+)?(?:kreeg|ontving|kregen|heb\s+(?:\S+\s+){0,3}?"
    r"(?:gekregen|ontvangen))\s+(?:een|de|het|\d|twee)\b(?!\s+(?:pakket|doos|bestelling)\b)",
    rf"\b(?:kreeg|ontving|gekregen|ontvangen|gestuurd|geleverd)\b.{{0,80}}?\bin\s+plaats\s+van\b{_NOT_A_COUNT}|"
    r"\bniet\s+wat\s+ik\s+(?:heb\s+)?(?:besteld|gekocht)|"
    r"\bniet\s+(?:de|het)\s+(?:\S+\s+){0,2}?(?:die|dat)\s+ik\s+(?:heb\s+)?besteld",
    r"\btwee\s+(?:linker|rechter|linkse|rechtse)\w*|\b(?:bestelling|pakket)\s+van\s+iemand\s+anders|"
    r"\bandermans\s+(?:bestelling|pakket)|\b(?:kleur|maat|model)\s+(?:is|was|klopt)\s+(?:\S+\s+)?"
    r"(?:verkeerd|fout|niet)\b",
)
# "ordered size 9 ... in the box there was a size 7", "pedí la 38 y en la caja vienen unas 42"
_ORDERED = (
    r"\b(?:ordered|order\s+(?:says|said|shows|was\s+for)|packing\s+slip|pedi|he\s+pedido|"
    r"habia\s+pedido|commande|bestellt|ordinato|encomendei|besteld)\b"
)
_BOX = (
    r"(?:in\s+the\s+(?:box|package|parcel)|inside|en\s+la\s+caja|en\s+el\s+paquete|"
    r"dans\s+(?:la\s+boite|le\s+colis|le\s+carton|le\s+paquet)|im\s+(?:karton|paket)|"
    r"nella\s+scatola|nel\s+pacco|na\s+caixa|no\s+pacote|in\s+(?:de|het)\s+(?:doos|pakket|pakje))"
)
_SIZE = (
    r"(?:(?:size|maat|talla|taille|pointure|grosse|taglia|numero|tamanho|nummer|eu|us|uk|"
    r"unas?|unos|an?|een|eine?|une?|um|uma|uns|umas)\s+)?[mw]?\d{1,2}\b"
)
_BOX_CONTENT = rf"{_BOX}\s+(?:\S+\s+){{0,3}}?{_SIZE}|[mw]?\d{{1,2}}\s+(?:\S+\s+){{0,2}}?{_BOX}"

# The customer's own mistake, right before the match: "I ordered the wrong size",
# "comprei o tamanho errado", "ich habe die falsche Größe bestellt".
_SELF_MISTAKE_BEFORE = (
    r"(?:\b(?:i|we)\s+(?:\S+\s+)?(?:ordered|chose|picked|selected|bought|clicked|put\s+in|"
    r"accidentally\s+ordered)\s+(?:the\s+|a\s+)?|"
    # "I ordered the Echo Clog in the wrong size", but not "I ordered clogs, got the wrong size"
    r"\b(?:i|we)\s+(?:\S+\s+)?(?:ordered|chose|picked|selected|bought)\s+"
    r"(?:(?!(?:got|received|sent|came|arrived|but|and|you|they|instead)\b)[^\s.,!?;:]+\s+){1,5}?"
    r"(?:in|with|for)\s+(?:the\s+|a\s+)|"
    # denied: "it is not the wrong item, I just don't like the colour"
    r"\b(?:not|isn't|wasn't|aren't|weren't|never)\s+(?:the\s+|a\s+)?|"
    r"\b(?:pedi|compre|elegi|seleccione|encargue)\s+(?:la\s+|el\s+|un\s+|una\s+)?\S*\s*|"
    r"\bj'ai\s+(?:commande|choisi|pris|selectionne)\s+(?:la\s+|le\s+|une?\s+)?|"
    r"\bho\s+(?:ordinato|scelto|preso|selezionato)\s+(?:la\s+|il\s+|lo\s+|l'|un[oa]?\s+)?\S*\s*|"
    r"\b(?:comprei|pedi|escolhi|encomendei)\s+(?:o\s+|a\s+|um\s+|uma\s+)?\S*\s*)"
)
_SELF_MISTAKE_NEAR = (
    r"\bby\s+(?:mistake|accident)|\baccidentally\b|\bmy\s+(?:own\s+)?(?:fault|mistake)|\bmy\s+bad\b|"
    r"por\s+error\s+mio|me\s+equivoque|je\s+me\s+suis\s+trompe|aus\s+versehen|versehentlich|"
    r"\bho\s+sbagliato|colpa\s+mia|me\s+enganei|por\s+engano|per\s+ongeluk|mijn\s+(?:eigen\s+)?fout|"
    r"\b(?:i|we)\s+(?:\S+\s+)?(?:typed|entered|put|ordered|chose|picked|selected)\s+(?:in\s+)?"
    r"(?:the\s+|a\s+)?wrong|\brefund\s+instead|"
    r"\b(?:answer|reply|response|email|message|information|info)\s+(?:that\s+)?(?:i|we)\s+"
    r"(?:got|received)\b|\bvoucher\b|\bstore\s+credit"
)

# ---------------------------------------------------------------- damaged on arrival
_ARRIVAL = (
    # en
    r"\b(?:arrived|arrives|arrival|came|comes\s+(?:with|in)|received|delivered|showed\s+up|"
    r"turned\s+up|opened|opening|unboxed|unboxing|unpacked|unpacking|out\s+of\s+the\s+(?:box|"
    r"package|packaging)|in\s+the\s+box|brand\s+new|first\s+time\s+i\s+(?:wore|put|tried)|"
    r"(?:the|this|my)\s+(?:\S+\s+)?(?:package|parcel|box|packaging|delivery)|never\s+(?:been\s+)?"
    r"worn|(?:i|just)\s+got|got\s+(?:it|them|my|the)|(?:my|the|these|brand)\s+new|"
    r"(?:you|they)\s+(?:\S+\s+)?(?:ship|shipped|sent|send)|haven't\s+(?:even\s+)?(?:worn|tried)|"
    r"after\s+(?:only\s+|just\s+)?(?:one|two|three|a\s+few|a\s+couple\s+of|\d)\s+(?:days?|wears?|"
    r"uses?))\b|"
    # es
    r"\b(?:llegaron|llego|llegado|llega|llegar|llegan|viene|vienen|recibi|recibido|al\s+abrir|"
    r"abri|abrir\s+(?:la|el)|(?:despues\s+de|a\s+los|tras)\s+(?:dos|tres|pocos|\d)\s+dias|"
    r"desembal\w*|caja|paquete|nuev[oa]s?|estrenar|recien|vinieron|vino)\b|"
    # fr
    r"\b(?:recu\w*|arrive\w*|livre\w*|en\s+ouvrant|ouvert|ouvrir|deball\w*|colis|carton|"
    r"boite|neu(?:f|ve)s?|ce\s+matin|jamais\s+porte\w*|(?:apres|au\s+bout\s+de)\s+(?:deux|trois|"
    r"quelques|\d)\s+jours)\b|"
    # de
    r"\b(?:angekommen|ankam|kam|kamen|erhalten|bekommen|geliefert|auspack\w*|ausgepackt|"
    r"beim\s+offnen|geoffnet|aufgemacht|karton|paket|neu\w*|ungetragen|nie\s+getragen|"
    r"nach\s+(?:zwei|drei|wenigen|ein\s+paar|\d)\s+tagen)\b|"
    # it
    r"\b(?:arrivat\w*|ricevut\w*|consegnat\w*|aperto|aprire|apertura|spacchett\w*|pacco|"
    r"scatola|nuov\w*|mai\s+indossat\w*|dopo\s+(?:due|tre|pochi|\d)\s+giorni)\b|"
    # pt
    r"\b(?:chegou|chegaram|recebi|recebido|veio|vieram|abri|ao\s+abrir|abrir\s+(?:a|o)|caixa|"
    r"pacote|embalagem|nov[oa]s?|depois\s+de\s+(?:dois|tres|poucos|\d)\s+dias)\b|"
    # nl
    r"\b(?:aangekomen|ontvangen|geleverd|bezorgd|kwam|kwamen|kreeg|uitpak\w*|uitgepakt|"
    r"openmaken|opende|doos|pakket|nieuw\w*|nooit\s+gedragen|binnengekomen|"
    r"na\s+(?:twee|drie|een\s+paar|\d)\s+dagen)\b"
)
_DAMAGE = (
    # en
    r"\b(?:damaged|damage|broken|broke|torn|tear|ripped|rip|defective|defect|cracked|crack|"
    r"cracks|crushed|faulty|snapped|hole|holes|stained|stains|dirty|scratched|scratches|"
    r"scuffed|dented|detached|unglued|peeling|warped|deformed|melted|mouldy|moldy|gash|gashes|"
    r"gashed|slashed|sliced|punctured|bent|squashed|smashed|shattered|ruined|wrecked|stain|"
    r"scuff|scuffs|dent|dents|discolou?red|discolou?ration|mildew|soaked|soaking|mouldy|"
    r"unstitched|frayed|coming\s+(?:off|loose|unglued|unstuck)|glue\s+(?:marks|stains))\b|"
    r"\bsplit\s+(?:open|along|at|across|down|right|on|in\s+(?:half|two|the))|\ba\s+split\b|\bmissing\s+(?:a|the|one)\s+(?:strap|buckle|"
    r"piece|part|charm|sole)\b|"
    r"\b(?:came|coming|falling|fell)\s+apart\b|"
    # es
    r"\b(?:danad\w*|dano|grieta\w*|rot[oa]s?|romp\w*|defectuos\w*|defecto|rajad\w*|raja|despegad\w*|"
    r"descosid\w*|agujero|manchad\w*|mancha|manchas|rayad\w*|rasgad\w*|deformad\w*|aplastad\w*|"
    r"despeg\w*|suci[oa]s?)\b|"
    # fr
    r"\b(?:endommag\w*|abime\w*|casse\w*|dechir\w*|defectueu\w*|defaut|entaille|trou|troue\w*|"
    r"tachee?s?|fissur\w*|decoll\w*|raye\w*|tordu\w*|deform\w*|cabosse\w*|ecrase\w*|craque\w*|"
    r"mauvais\s+etat|dans\s+cet\s+etat|tache|taches|sale|sales|se\s+decolle\w*)\b|"
    # de
    r"\b(?:beschadig\w*|kaputt\w*|defekt\w*|zerrissen|gerissen|riss|risse|eingerissen|gebrochen|"
    r"abgebrochen|verzogen|eingedruckt|zerkratzt|kratzer|fleck\w*|loch|locher|abgelost|verformt|"
    r"zerdruckt|verschmutzt|schaden|beschadigung|lost\s+sich|schmutzig\w*)\b|"
    # it
    r"\b(?:danneggiat\w*|rott[oaie]|romp\w*|difettos\w*|difetto|strappat\w*|strappo|staccat\w*|"
    r"rovinat\w*|graffiat\w*|macchiat\w*|crepat\w*|crepa|bucat\w*|buco|deformat\w*|scucit\w*|"
    r"ammaccat\w*|schiacciat\w*|spaccat\w*|scoll\w*|macchia|macchie|sporc\w*)\b|"
    # pt
    r"\b(?:danificad\w*|quebrad\w*|rasgad\w*|rasgao|rasgo|defeituos\w*|defeito|estragad\w*|"
    r"rachad\w*|racha|furad\w*|furo|descolad\w*|descosturad\w*|manchad\w*|riscad\w*|amassad\w*|"
    r"deformad\w*|mancha|manchas|suj[oa]s?|descolando|solt\w*)\b|"
    # nl
    r"\b(?:beschadig\w*|kapot\w*|defect\w*|gescheurd|scheur\w*|barst\w*|gebroken|breuk|losgekomen|"
    r"losgeraakt|losgelaten|vlek\w*|gat|gaten|krassen|kras|deuk\w*|fabrieksfout|productiefout|"
    r"vervormd|geplet)\b|\blos\s+(?:zit|zat|zitten|gekomen|geraakt)\b"
)
# "the shoes are broken", "produit abîmé", "die Schuhe sind kaputt", "kapotte schoenen"
_ITEM = (
    r"(?:item|product|shoes?|clogs?|sandals?|sneakers?|pair|package|parcel|charms?|jibbitz|boots?|"
    r"producto|articulo|paquete|zapat[oa]s?|zuecos?|sandalias?|zapatillas?|"
    r"produit|article|colis|chaussures?|paire|sabots?|sandales?|baskets?|"
    r"produkt|artikel|paket|schuhe?|sandalen?|ware|lieferung|"
    r"prodotto|articolo|pacco|scarpe?|sandal[io]|zoccol[io]|paio|"
    r"produto|artigo|pacote|sapatos?|tamancos?|tenis|"
    r"pakket|schoenen?|klompen?|artikelen)"
)
_DAMAGED_ADJ = (
    r"(?:damaged|broken|torn|ripped|defective|cracked|faulty|crushed|"
    r"danad[oa]s?|rot[oa]s?|defectuos[oa]s?|rajad[oa]s?|"
    r"abimee?s?|endommagee?s?|cassee?s?|dechiree?s?|defectueu(?:x|se|ses)|"
    r"beschadigt\w*|kaputt\w*|defekt\w*|zerrissen\w*|gebrochen\w*|"
    r"danneggiat[oaie]|rott[oaie]|difettos[oaie]|strappat[oaie]|rovinat[oaie]|"
    r"danificad[oa]s?|quebrad[oa]s?|rasgad[oa]s?|defeituos[oa]s?|estragad[oa]s?|"
    r"beschadigde?|kapotte?|defecte?|gescheurde?)"
)
_DAMAGED = (
    rf"\b{_ITEM}\s+(?:(?:is|are|was|were|esta|estan|estaba|estaban|vino|vinieron|est|sont|etait|"
    rf"etaient|ist|sind|war|waren|e|sono|era|erano|estao|estava|veio|vieram|zijn)\s+)?(?:\S+\s+)?"
    rf"{_DAMAGED_ADJ}\b",
    rf"\b{_DAMAGED_ADJ}\s+(?:\S+\s+)?{_ITEM}\b",
    r"\bdead\s+on\s+arrival\b|\bdoa\b",
    # second-hand goods sent as new: "these look used", "deja portees", "parecen usadas"
    r"\b(?:look|looks|looked|looking|seem|seems|seemed)\s+(?:\S+\s+)?(?:used|second-?hand|"
    r"pre-?owned|pre-?worn|(?:already\s+)?worn)\b|\b(?:previously|already\s+been|been)\s+worn\s+"
    r"(?:before|by\s+someone)|\bworn\s+by\s+someone|\b(?:someone|somebody)(?:'s|\s+else's)\s+"
    r"return\b|\b(?:sent|received|got|delivered|shipped)\s+(?:me\s+|us\s+)?(?:an?\s+)?used\s+"
    r"(?:pair|shoes|clogs|sandals|sneakers|item|product)\b",
    r"\b(?:parecen|parece|estan|vinieron|llegaron)\s+(?:\S+\s+)?usad[oa]s|\bde\s+segunda\s+mano|"
    r"\bl'air\s+d'(?:avoir|etre)\s+(?:deja\s+)?(?:ete\s+)?(?:porte|utilise|usage)|"
    r"\b(?:semblent|semble)\s+(?:\S+\s+)?(?:deja\s+)?(?:porte|usage|utilise)|\bd'occasion|"
    r"\b(?:sehen|sieht|wirken|wirkt)\s+(?:\S+\s+){0,2}?(?:getragen|gebraucht|benutzt)|"
    r"\b(?:bereits|schon)\s+getragen\s+(?:geliefert|angekommen)|"
    r"\b(?:sembrano|sembra)\s+(?:\S+\s+)?(?:usat|indossat)|\bgia\s+(?:usat|indossat)\w*\s+da\s+"
    r"qualcun|\b(?:parecem|parece)\s+(?:\S+\s+)?usad[oa]s|\bja\s+(?:foram\s+)?usad[oa]s\s+por|"
    r"\b(?:zien|ziet|lijken|lijkt)\s+(?:er\s+)?(?:\S+\s+)?(?:gebruikt|gedragen|tweedehands)",
)
_DAMAGE_VETO_NEAR = (
    # worn for weeks: a warranty question, not damage on arrival
    r"\blast\s+(?:year|summer|winter|month)|\b(?:years?|months?)\s+ago\b|"
    r"\bafter\s+(?:\S+\s+){0,2}?(?:weeks?|months?|years?|summer|a\s+while|regular\s+use|"
    r"(?:several|many|a\s+few|some)\s+(?:wears|uses))\b|"
    r"\b(?:despues\s+de|tras|apres|nach|dopo|depois\s+de|na)\s+(?:\S+\s+){0,2}?(?:semanas?|meses|"
    r"mes|semaines?|mois|wochen|monaten|monat|jahr\w*|settimane|mesi|mese|anno|zomer|weken|"
    r"maanden|maand|jaar|sommer|verano|estate|verao)\b|"
    # negated damage, resistance, questions about the product
    r"\bnot\s+(?:\S+\s+)?damaged|\b(?:is|was|are|were|has|have|had)n't\s+(?:\w+\s+)?"
    r"(?:been\s+)?damaged|\b(?:nothing|none)\s+(?:\S+\s+){0,2}?damaged|\bno\s+damage|"
    r"\bundamaged|\bintact\b|\bwithout\s+(?:any\s+)?damage|"
    r"\bperfect\s+condition|resistant|-proof|\bproof\b|\bwaterproof|"
    # not about the item: "the answer I received", "the box was damaged but the shoes are fine"
    r"\b(?:answer|reply|response|email|message)\s+(?:i|we)\s+(?:received|got)\b|"
    r"\b(?:shoes|clogs|sandals|item|contents?)\s+(?:are|is|were|was)\s+(?:fine|ok|okay|perfect)|"
    # worn by the household: "they look used because my son wore them in the garden"
    r"\b(?:because|since|as)\s+(?:\S+\s+){1,3}?(?:wore|worn|used)\s+(?:them|it)\b"
)

# ---------------------------------------------------------------- charged twice
_TWICE = r"(?:twice|two\s+times|2\s*times|2\s*x|double|two\s+separate|a\s+second\s+time)\b"
_CHARGED_TWICE = (
    # en
    rf"\b(?:charg|bill|debit|took|taken|paid|pay|deduct|withdr|processed|went\s+through|hit|"
    rf"posted|appear|show|listed|came\s+out|gone\s+out|went\s+out)\w*\s+"
    rf"(?:\S+\s+){{0,5}}?{_TWICE}",
    r"\bdouble[-\s]?(?:charg|bill|payment|debit|transaction)\w*|\bduplicated?\s+(?:charge|payment|"
    r"transaction|debit)s?\b|\b(?:two|2)\s+(?:identical\s+|separate\s+|duplicate\s+|equal\s+|"
    r"same\s+)?(?:charges|payments|transactions|debits|withdrawals|deductions)\b|"
    r"\bcharged\s+(?:\S+\s+){0,3}?(?:again|a\s+second)\b|\b(?:two|2)\s+payment\s+plans\b|"
    r"\bonly\s+(?:checked\s+out|paid|ordered|placed\s+(?:one|the|an?)\s+order|bought\s+it)\s+once\b|"
    r"\bnur\s+einmal\s+(?:bestellt|bezahlt)|\bsolo\s+(?:he\s+)?(?:pagado|comprado|pedido)\s+una\s+vez|"
    r"\bune\s+seule\s+fois|\buna\s+sola\s+volta|\bso\s+(?:fiz|paguei)\s+uma\s+vez|"
    r"\bmaar\s+(?:een|1)\s+keer\s+(?:besteld|betaald)",
    # es
    r"\b(?:cobr|carg|pag|debit|descont|factur)\w*\s+(?:\S+\s+){0,4}?(?:dos\s+veces|doble|"
    r"por\s+duplicado|2\s+veces)\b|\b(?:cargo|cobro|pago|importe)s?\s+(?:\S+\s+)?(?:doble|"
    r"duplicad\w*|repetid\w*)|\bdos\s+(?:cargos|cobros|pagos|transacciones|adeudos)\b|"
    r"\bdoble\s+(?:cargo|cobro|pago)|\b(?:cargo|cobro|pago|importe|pedido|compra)s?\s+(?:\S+\s+){0,3}?"
    r"(?:aparece\w*|sale|salen|figura\w*)\s+(?:\S+\s+)?(?:dos\s+veces|duplicad\w*|repetid\w*)",
    # fr
    r"\b(?:debit|factur|preleve|paye|payer|encaiss|prel)\w*\s+(?:\S+\s+){0,4}?(?:deux\s+fois|"
    r"2\s+fois|en\s+double)\b|\bdouble\s+(?:prelevement|debit|paiement|facturation|encaissement)|"
    r"\bdeux\s+(?:prelevements|debits|paiements|transactions|encaissements)\b|\bdoublon|"
    r"\b(?:prelevement|debit|paiement)s?\s+(?:en\s+)?(?:double|duplique)|"
    r"\b(?:paiement|prelevement|debit|montant|transaction|commande)s?\s+(?:\S+\s+){0,3}?"
    r"(?:apparai\w*|figure\w*|affiche\w*)\s+(?:\S+\s+)?deux\s+fois",
    # de
    r"\b(?:doppelt|zweimal|zwei\s+mal|2\s*x|2\s+mal)\s+(?:\S+\s+){0,5}?(?:belastet|abgebucht|"
    r"berechnet|bezahlt|abgezogen|eingezogen|kassiert|gezahlt|abgerechnet)|"
    r"\b(?:belastet|abgebucht|berechnet|abgezogen|eingezogen)\s+(?:\S+\s+){0,3}?(?:doppelt|"
    r"zweimal|zwei\s+mal)\b|\bdoppelte[nr]?\s+(?:abbuchung|belastung|zahlung|betrag|buchung|"
    r"lastschrift)|\bzwei\s+(?:abbuchungen|belastungen|zahlungen|buchungen|lastschriften)\b|"
    r"doppel(?:ab)?buchung|\b(?:erscheint|erscheinen|taucht|tauchen|steht|stehen)\s+(?:\S+\s+){0,3}?"
    r"(?:doppelt|zweimal|zwei\s+mal)\s+(?:\S+\s+){0,3}?(?:auf\s+)?(?:der|meiner|dem|meinem)\s+"
    r"(?:abrechnung|kontoauszug|karte|konto|kreditkarte)",
    # it
    r"\b(?:addebit|pagat|prelevat|scalat|trattenut)\w*\s+(?:\S+\s+){0,4}?(?:due\s+volte|2\s+volte|"
    r"doppio)\b|\b(?:doppio|doppia)\s+(?:addebito|pagamento|prelievo|transazione)|"
    r"\bdue\s+(?:addebiti|pagamenti|prelievi|transazioni)\b|\baddebito\s+(?:doppio|duplicato)|"
    r"\bdue\s+volte\s+(?:\S+\s+){0,3}?(?:addebitat|pagat|prelevat)|\b(?:addebito|pagamento|"
    r"importo|transazione)\s+(?:\S+\s+){0,3}?(?:compare|risulta|appare)\s+(?:\S+\s+)?due\s+volte",
    # pt
    r"\b(?:cobr|debit|descont|pag|carreg)\w*\s+(?:\S+\s+){0,4}?(?:duas\s+vezes|2\s+vezes|"
    r"em\s+dobro|duplicad\w*)|\bcobrancas?\s+(?:duplicad|dupl|em\s+dobro)\w*|"
    r"\bduas\s+(?:cobrancas|transacoes|vezes\s+no\s+cartao)\b|\b(?:dois|2)\s+(?:debitos|"
    r"pagamentos|descontos)\b|\b(?:cobranca|pagamento|valor|compra|transacao)\s+(?:\S+\s+){0,3}?"
    r"(?:aparece|aparecem|consta)\s+(?:\S+\s+)?duas\s+vezes",
    # nl
    r"\b(?:twee\s+keer|tweemaal|dubbel|2\s*x|2\s+keer)\s+(?:\S+\s+){0,4}?(?:afgeschreven|betaald|"
    r"gefactureerd|in\s+rekening|afgeboekt|geincasseerd|gedebiteerd|aangerekend|afgetrokken)|"
    r"\b(?:afgeschreven|gefactureerd|aangerekend|afgeboekt|geincasseerd)\s+(?:\S+\s+){0,3}?"
    r"(?:twee\s+keer|tweemaal|dubbel)\b|\bdubbele\s+(?:afschrijving|betaling|boeking|incasso|"
    r"transactie)|\btwee\s+(?:afschrijvingen|betalingen|transacties|boekingen)\b|"
    r"\b(?:bedrag|betaling|afschrijving|transactie)\s+(?:\S+\s+){0,3}?(?:staat|komt|verschijnt)\s+"
    r"(?:\S+\s+)?(?:twee\s+keer|tweemaal|dubbel)\s+(?:\S+\s+)?(?:op|in)\b",
)
# Paying in instalments is not a double charge.
_CHARGED_VETO_NEAR = (
    r"\b(?:pay|paying|split|spread)\s+(?:\S+\s+){0,3}?in(?:to)?\s+(?:two|2|\d|several)\s+"
    r"(?:payments|instal+ments)|\ben\s+(?:deux|plusieurs|\d)\s+fois\s+sans|\ba\s+plazos|"
    r"\bin\s+raten\b|\ba\s+rate\b|\bem\s+parcelas|\bin\s+termijnen|"
    # a payment refused twice took no money
    r"\b(?:declined|rejected|refused|failed|denied|bounced)\s+(?:\S+\s+)?(?:twice|two\s+times)|"
    r"\brechazad\w*\s+(?:\S+\s+)?dos\s+veces|\brefuse\w*\s+(?:\S+\s+)?deux\s+fois|"
    r"\b(?:zweimal|zwei\s+mal)\s+(?:\S+\s+)?abgelehnt|\brifiutat\w*\s+(?:\S+\s+)?due\s+volte|"
    r"\brecusad\w*\s+(?:\S+\s+)?duas\s+vezes|\b(?:twee\s+keer|tweemaal)\s+(?:\S+\s+)?geweigerd"
)

# ---------------------------------------------------------------- account taken over
_COMPROMISED = (
    # en
    r"\b(?:hacked|hacker|hackers|hijacked|compromised|taken\s+over|takeover)\b",
    r"\b(?:someone|somebody|a\s+stranger|an\s+unknown\s+person)\s+(?:else\s+)?(?:\S+\s+){0,3}?"
    r"(?:logged|log|signed|accessed|access|got\s+into|broke\s+into|changed|used|using|placed|"
    r"ordered|made|reset|is\s+in|has\s+(?:my|access))",
    r"\bunauthori[sz]ed\s+(?:\S+\s+){0,2}?(?:access|login|log-?in|sign-?in|orders?|purchases?|"
    r"charges?|transactions?|payments?|changes?|activity|person|user|device|use\s+of\s+my)",
    r"\b(?:password|e-?mail|address|contrasena|correo|direccion|mot\s+de\s+passe|adresse|passwort|"
    r"indirizzo|senha|endereco|wachtwoord|e-?mailadres)\b.{0,40}?(?:changed|cambiad|modificad|"
    r"modifie|change|geandert|cambiat|alterad|mudad|trocad|gewijzigd|veranderd)\w*.{0,80}?"
    r"(?:(?:was|it)\s*n't\s+me|(?:was|it)\s+not\s+me|not\s+by\s+me|no\s+(?:he\s+sido|fui)\s+yo|"
    r"ce\s+n'(?:est|etait)\s+pas\s+moi|je\s+n'ai\s+(?:rien\s+)?(?:change|modifie|fait)|"
    r"(?:das\s+)?(?:war|habe)\s+ich\s+nicht|nicht\s+(?:ich|von\s+mir)|non\s+sono\s+stat[oa]\s+io|"
    r"non\s+l'ho\s+fatto|nao\s+fui\s+eu|eu\s+nao\s+(?:fiz|alterei|mudei)|niet\s+(?:door\s+)?mij|"
    r"heb\s+ik\s+niet|ik\s+(?:heb\s+)?(?:dat|dit)\s+niet|"
    r"(?:i|we)\s+(?:did\s*n't|did\s+not|never|have\s*n't|have\s+not)\s+(?:\S+\s+)?(?:change|request|"
    r"ask|reset|touch|authori|do\b)|yo\s+no\s+(?:he\s+)?(?:cambiado|cambie|solicitado|pedido)|"
    r"ich\s+habe\s+(?:nichts|nie|es\s+nicht|das\s+nicht)\s+(?:\S+\s+)?(?:geandert|angefordert|"
    r"beantragt)|non\s+ho\s+(?:\S+\s+)?(?:cambiato|modificato|richiesto)|nao\s+(?:alterei|mudei|"
    r"pedi|solicitei)|ik\s+heb\s+(?:niets|niks|het\s+niet|nooit)\s+(?:\S+\s+)?(?:gewijzigd|veranderd|"
    r"aangevraagd))",
    r"\b(?:did\s*n't|did\s+not|never)\s+(?:make|place|order|authori[sz]e|buy|purchase|request)\s+"
    r"(?:this|these|that|those)\s+(?:orders?|purchases?|charges?|transactions?|changes?)|"
    r"\b(?:orders?|purchases?|charges?|transactions?)\b[^.!?]{0,50}?\s(?:that\s+)?(?:i|we)\s+"
    r"(?:did\s*n't|did\s+not|never|have\s*n't|have\s+never)\s+(?:make|made|place|placed|order|"
    r"ordered|authori\w*|recogni\w*|buy|bought|purchase\w*)\b",
    r"\b(?:orders?|purchases?|log-?ins?|sign-?ins?|activity|changes?)\b[^!?]{0,80}?\b(?:it\s+|that\s+|"
    r"this\s+|those\s+|these\s+)?(?:was\s*n't|was\s+not|were\s*n't|were\s+not)\s+(?:me|us)\b",
    r"\b(?:password|e-?mail|email\s+address|address|phone(?:\s+number)?|login|details)\s+"
    r"(?:\S+\s+){0,3}?(?:was|were|has\s+been|have\s+been|got|been)\s+changed\b.{0,80}?"
    r"(?:did\s*n't|did\s+not|wasn't|was\s+not|not\s+me|never)",
    r"\b(?:unknown|unrecogni[sz]ed|strange|suspicious)\s+(?:device|login|log-?in|sign-?in|"
    r"activity|location)|\b(?:lock|freeze)\s+(?:my|the|this)\s+account",
    # es
    r"\bhacke\w*|\bjaquea\w*|\bpirate(?:ad[oa]s?|aron|e?e?s?)\s+(?:\S+\s+){0,2}?(?:cuenta|compte|"
    r"account|conta)|\b(?:cuenta|compte|account|conta)\s+(?:\S+\s+){0,3}?pirat\w*|\bpirateado|"
    r"\bpiratearon|\bpiratage|\b(?:ete|suis|etre|fui|sido)\s+pirate\w*|\balguien\s+(?:\S+\s+){0,3}?(?:ha\s+entrado|entro|"
    r"ha\s+accedido|accedio|ha\s+cambiado|cambio|ha\s+usado|uso|ha\s+hecho|hizo|ha\s+iniciado|"
    r"inicio|ha\s+comprado|compro|ha\s+realizado|realizo|tiene\s+acceso)|"
    r"\bacceso\s+no\s+autorizado|\b(?:compra|pedido|cargo)s?\s+no\s+autorizad|"
    r"\b(?:pedido|compra|cargo)s?\s+que\s+(?:yo\s+)?no\s+(?:he\s+)?(?:hecho|hice|realizado|"
    r"realice|pedido|reconozco)|\bme\s+(?:han|habian)\s+(?:cambiado|robado)\s+(?:la\s+|el\s+)?"
    r"(?:contrasena|cuenta|correo|email)|\brob\w*\s+(?:de\s+)?(?:la\s+|mi\s+)?cuenta|"
    r"\bsuplant\w*|\bbloque\w*\s+(?:la|mi)\s+cuenta",
    # fr
    r"\bquelqu'un\s+(?:\S+\s+){0,3}?(?:a\s+modifie|a\s+change|s'est\s+connecte|a\s+accede|"
    r"a\s+utilise|a\s+passe|a\s+commande|a\s+acces|se\s+connecte|modifie|change)|"
    r"\bacces\s+non\s+autorise|\b(?:connexion|commande|achat|paiement)s?\s+(?:\S+\s+)?"
    r"(?:non\s+autorise|suspect|frauduleu)|\b(?:commande|achat)s?\s+que\s+je\s+n'ai\s+"
    r"(?:pas|jamais)\s+(?:passe|fait|effectue)|\bje\s+n'ai\s+(?:pas|jamais)\s+passe\s+"
    r"(?:cette|ces)\s+commande|\busurp\w*|\bappareil\s+inconnu|\bbloqu\w*\s+(?:mon|le)\s+compte",
    # de
    r"\bgehackt|\bgekapert|\bjemand\s+(?:\S+\s+){0,4}?(?:eingeloggt|angemeldet|geandert|zugegriffen|"
    r"bestellt|benutzt|verwendet|zugang|eingebrochen)|\b(?:hat|hatte)\s+sich\s+jemand|\bunbefugt\w*|"
    r"\bunberechtigt\w*|\bunbekannt\w*\s+(?:gerat|login|anmeldung|zugriff)|\bfremde[rns]?\s+"
    r"(?:zugriff|login|anmeldung|bestellung)|\b(?:bestellung|kauf|zahlung)\w*(?:\s+\w+){0,2}?,?\s+"
    r"(?:die|den|das)\s+"
    r"ich\s+(?:nicht|nie)\s+(?:\S+\s+)?(?:aufgegeben|getatigt|gemacht|bestellt|veranlasst)|"
    r"\bkonto\s+(?:\S+\s+){0,3}?(?:ubernommen|sperren)",
    # it
    r"\bhackerat\w*|\bhackat\w*|\bqualcuno\s+(?:\S+\s+){0,3}?(?:e\s+entrato|entrato|ha\s+cambiato|"
    r"ha\s+modificato|ha\s+effettuato|ha\s+usato|ha\s+utilizzato|ha\s+fatto|ha\s+acceduto|"
    r"accedut|ha\s+ordinato|ha\s+comprato|ha\s+accesso)|\baccesso\s+non\s+autorizzato|"
    r"\b(?:ordine|acquisto|addebito)\w*\s+(?:\S+\s+)?(?:non\s+autorizzat|sospett)|"
    r"\b(?:ordine|acquisto)\s+che\s+non\s+ho\s+(?:fatto|effettuato|ordinato)|"
    r"\bnon\s+ho\s+(?:fatto|effettuato)\s+(?:io\s+)?(?:quest|quell|nessun)\w*\s+(?:ordine|acquisto)|"
    r"\brubato\s+(?:l'|il\s+)?account|\bdispositivo\s+(?:sconosciuto|desconocido|desconhecido)|"
    r"\b(?:account|profilo)\s+violat",
    # pt
    r"\bhackead\w*|\bhackearam|\binvadid\w*|\binvadiram|\balguem\s+(?:\S+\s+){0,3}?(?:mudou|"
    r"alterou|entrou|acessou|usou|fez|trocou|comprou)|\bacesso\s+nao\s+autorizado|"
    r"\b(?:compra|pedido|cobranca)s?\s+(?:\S+\s+)?nao\s+autorizad|\b(?:pedido|compra)s?\s+que\s+"
    r"(?:eu\s+)?nao\s+(?:fiz|realizei|reconheco)|\bnao\s+fiz\s+(?:pedido|compra)\s+(?:nenhum|"
    r"nenhuma|algum)|\bnao\s+fiz\s+(?:esse|essa|este|esta|estes|essas)\s+(?:pedido|compra)|"
    r"\bbloquei\w*\s+(?:a|minha)\s+conta",
    # nl
    r"\bgehackt|\bgekaapt|\bonbevoegd\w*|\biemand\s+(?:\S+\s+){0,4}?(?:ingelogd|gewijzigd|veranderd|"
    r"besteld|gebruikt|toegang|aangepast|overgenomen)|\baccount\s+(?:\S+\s+){0,2}?overgenomen|"
    r"\ber\s+is\s+(?:\S+\s+){0,4}?ingelogd|\bonbekend\w*\s+"
    r"(?:apparaat|toestel|locatie|login)|\b(?:iets|bestelling\w*|aankoop|aankopen)\s+(?:\S+\s+)?"
    r"(?:die|dat|wat)\s+ik\s+(?:niet|nooit)\s+(?:heb\s+)?(?:besteld|gedaan|geplaatst|gekocht)|"
    r"\baccount\s+(?:\S+\s+)?blokkeren",
)
_COMPROMISED_VETO_NEAR = (
    r"\bnot\s+(?:been\s+)?hacked|\bwasn't\s+hacked|\bhack-?proof|"
    r"\b(?:can't|cannot|can\s+not|won't|couldn't)\s+be\s+(?:hacked|compromised)|"
    r"\bhow\s+(?:do|can)\s+i\s+(?:protect|secure|keep)|\bprevent\w*\s+(?:\S+\s+)?(?:hack|unauthori)|"
    # an answer that mixed up orders is a complaint about the answer, not a takeover
    r"\b(?:refer\w*|mention\w*|talk\w*\s+about|about)\s+(?:to\s+)?(?:an?|the|some)\s+"
    r"(?:\S+\s+)?(?:orders?|purchases?)\s+(?:that\s+)?(?:i|we)\s+(?:never|did)"
)

URGENCY_RULES: tuple[UrgencyRule, ...] = (
    _rule(
        "lost_package_marked_delivered",
        "package marked as delivered but not received (§3)",
        _LOST,
        pairs=((_DELIV_WORD, _NOT_RECEIVED, 250),),
        pair_context=_delivered_status,
        veto_before=_CONDITIONAL,
        veto_near=_LOST_VETO_NEAR,
    ),
    _rule(
        "incorrect_item_received",
        "incorrect item received (§3)",
        _INCORRECT,
        pairs=((_BOX_CONTENT, _ORDERED, 120),),
        veto_before=f"{_CONDITIONAL}|{_SELF_MISTAKE_BEFORE}",
        veto_near=_SELF_MISTAKE_NEAR,
    ),
    _rule(
        "damaged_item_received",
        "damaged or defective item received (same weight as §3's incorrect item)",
        _DAMAGED,
        pairs=((_DAMAGE, _ARRIVAL, 100),),
        veto_before=_CONDITIONAL,
        veto_near=_DAMAGE_VETO_NEAR,
    ),
    _rule(
        "charged_twice",
        "charged twice (same weight as §3's urgent cases)",
        _CHARGED_TWICE,
        veto_before=_CONDITIONAL,
        veto_near=_CHARGED_VETO_NEAR,
    ),
    _rule(
        "account_compromised",
        "account taken over (same weight as §3's urgent cases)",
        _COMPROMISED,
        veto_before=_CONDITIONAL,
        veto_near=_COMPROMISED_VETO_NEAR,
    ),
)


@dataclass(frozen=True)
class UrgencyVerdict:
    urgency: Urgency
    rule: str | None
    description: str | None


# Everything any rule starts a match with, in one regex: the text is scanned once, and the
# rules are tried only where something was found.
_ANY_RULE = _c(
    *(rule.pattern.pattern for rule in URGENCY_RULES),
    *(first.pattern for rule in URGENCY_RULES for first, _, _ in rule.pairs),
)


def assess_urgency(text: str) -> UrgencyVerdict:
    """Urgent if any §3 rule fires; the first rule (in policy order) that fired is the reason."""
    folded = normalize(text)
    fired = [False] * len(URGENCY_RULES)
    anchors: list[list[list[tuple[int, int]]]] = [[[] for _ in r.pairs] for r in URGENCY_RULES]
    pos = 0
    while (hit := _ANY_RULE.search(folded, pos)) is not None:
        start = hit.start()
        for index, rule in enumerate(URGENCY_RULES):
            if fired[index]:
                continue
            match = rule.pattern.match(folded, start)
            if match and not rule._vetoed(folded, *match.span()):
                fired[index] = True
            for (first, _, _), spans in zip(rule.pairs, anchors[index]):
                anchor = first.match(folded, start)
                if anchor and rule._anchor_ok(folded, anchor):
                    spans.append(anchor.span())
        pos = start + 1
    for index, rule in enumerate(URGENCY_RULES):
        if fired[index] or rule._pairs_fire(folded, anchors[index]):
            return UrgencyVerdict(Urgency.urgent, rule.name, rule.description)
    return UrgencyVerdict(Urgency.normal, None, None)
