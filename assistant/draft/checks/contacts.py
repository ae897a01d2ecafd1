"""Anything a customer could click, open or contact, other than the support address.

Links with or without a scheme, bare domains (by the public suffix list, from
tldextract's bundled snapshot: nothing is fetched), addresses, phone numbers (read by
libphonenumber), messaging handles, markdown links and images, HTML. All on the contact
view of the draft, where "[dot]", spaced letters and full-width forms are undone.

One the customer wrote in their own words is echoed, not introduced, and passes — but
never a look-alike of the shop's own domain, and never one that only occurs where the
mail instructs the assistant (an attacker's payload lives there).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from assistant.draft.checks import rules
from assistant.draft.checks.context import DraftContext, finding
from assistant.models import GroundingFinding
from assistant.normal_text import NormalText

# Reserved names (RFC 2606, 6761) are not on the public suffix list but resolve in a lab,
# an intranet or an attacker's instructions: "evil.example/return" is a link.
RESERVED_TLDS = frozenset(
    {"example", "test", "invalid", "localhost", "local", "internal", "onion", "lan", "home", "corp"}
)
_SCHEME = re.compile(r"\b(?:https?|ftp|file|mailto|tel|sms|data|javascript|whatsapp):\S+", re.I)
_HOST = re.compile(
    r"(?<![\w@.-])((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_][\w-]{0,62})\b(/[^\s<>\"')\]]*)?",
    re.U,
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?:/\S*)?")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}", re.U)
_HANDLE = re.compile(
    r"(?<![\w@.])@[A-Za-z][\w.]{2,30}\b|\b(?:whats\s?app|telegram|signal|wechat|viber|skype|"
    r"discord|instagram|facebook|messenger|tiktok|snapchat|imessage|threema|kik|twitter|"
    r"linkedin|zoom|microsoft teams|reddit)\b",
    re.I,
)
_MARKDOWN = re.compile(r"!?\[[^\]\n]{0,200}\]\([^)\s]{1,500}\)|<\s*https?://[^>\s]+>", re.I)
_HTML = re.compile(r"<\s*/?\s*[a-z][a-z0-9]*(?:\s+[^<>]{0,500})?/?\s*>|&#?\w{2,8};", re.I)
_PHONE_REGIONS = {
    "en": "US",
    "fr": "FR",
    "es": "ES",
    "de": "DE",
    "pt": "PT",
    "it": "IT",
    "nl": "NL",
}
_TRAILING = ".,;:!?)]}'\"»›"


@lru_cache(maxsize=1)
def _extractor():
    """The public suffix list as tldextract ships it: no download, no cache directory.
    Imported when first needed: tldextract brings requests, which an approval never needs."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registrable(host: str) -> str | None:
    """'mail.crocso-verify.com' → 'crocso-verify.com'; None when it is not a domain."""
    host = host.lower().strip(_TRAILING)
    labels = host.split(".")
    if len(labels) >= 2 and labels[-1] in RESERVED_TLDS:
        return ".".join(labels[-2:])
    parts = _extractor()(host)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}"
    return None


def _brand(context: DraftContext) -> str | None:
    """The shop's name as its domains spell it ('crocso' from support@crocso.example)."""
    domain = context.support_address.rpartition("@")[2]
    name = (registrable(domain) or domain).split(".")[0]
    return name if len(name) >= 4 else None


def _trusted(domain: str, context: DraftContext) -> bool:
    ours = context.support_address.rpartition("@")[2].lower()
    return bool(ours) and (domain == ours or domain == registrable(ours))


def _look_alike(url: str, domain: str | None, context: DraftContext) -> bool:
    """The shop's name inside someone else's domain: "crocso-account-verify.com",
    "crocso.com.track-parcel.example". The name itself under another ending
    ("crocso.com" beside support@crocso.example) is taken as the shop's."""
    brand = _brand(context)
    if not brand or not domain or _trusted(domain, context):
        return False
    name = domain.split(".")[0]
    host = re.sub(r"^[a-z]+:(?://)?", "", url.lower()).split("/")[0]
    return name != brand and brand in host.replace("-", "")


def _shops(domain: str, context: DraftContext) -> bool:
    """The shop's own domain, or its name under another ending ("crocso.com")."""
    own = _trusted(domain, context) or domain.split(".")[0] == _brand(context)
    return own or domain in rules.echoable_domains()


def _link_finding(excerpt: str, url: str, domain: str | None, context: DraftContext):
    if _look_alike(url, domain, context):
        return finding(
            "link",
            excerpt,
            f"a link to {domain}, which looks like the shop's own but is not "
            "(a look-alike domain is how phishing starts): only the support address may be given",
        )
    if context.in_signed(url) and domain and _shops(domain, context):
        return None  # their order page on the shop's own site
    if context.in_sources(url):
        return None  # written by the team in a cited knowledge-base entry
    return finding(
        "link",
        excerpt,
        "a link or domain that is neither the support address nor in the customer's own "
        "words: only the support address may be given",
    )


def find_contacts(draft: NormalText, context: DraftContext) -> Iterator[GroundingFinding]:
    view = draft.deobfuscated
    text = view.text
    taken: list[tuple[int, int]] = []

    def fresh(start: int, end: int) -> bool:
        if any(start < b and a < end for a, b in taken):
            return False
        taken.append((start, end))
        return True

    for match in _MARKDOWN.finditer(text):
        if fresh(match.start(), match.end()):
            kind = "an image" if match.group(0).startswith("!") else "a link"
            yield finding(
                "markup",
                view.excerpt(match.start(), match.end()),
                f"markdown ({kind}): a plain-text reply carries none, and an image "
                "URL can carry data out when the mail is opened",
            )
    for match in _HTML.finditer(text):
        if fresh(match.start(), match.end()):
            yield finding(
                "markup",
                view.excerpt(match.start(), match.end()),
                "HTML or internal markup in a plain-text reply",
            )
    for match in _EMAIL.finditer(text):
        address = match.group(0).lower().strip(_TRAILING)
        if not fresh(match.start(), match.end()):
            continue
        domain = address.rpartition("@")[2]
        if address == context.support_address.lower():
            continue
        if context.in_signed(address) and not _look_alike(domain, registrable(domain), context):
            continue  # the customer's own (or the one they asked us to use)
        if context.in_sources(address):
            continue  # given by a cited knowledge-base entry
        yield finding(
            "address",
            view.excerpt(match.start(), match.end()),
            "an e-mail address other than the support address, and not the "
            "customer's: email to the support address is the only channel (§2)",
        )
    for match in _SCHEME.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if not fresh(match.start(), match.start() + len(url)):
            continue
        host = re.sub(r"^[a-z]+:(?://)?", "", url, flags=re.I).split("/")[0].split("@")[-1]
        found = _link_finding(
            view.excerpt(match.start(), match.start() + len(url)),
            url,
            registrable(host.split(":")[0]),
            context,
        )
        if found:
            yield found
    for pattern in (_IPV4, _HOST):
        for match in pattern.finditer(text):
            url = match.group(0).rstrip(_TRAILING)
            start, end = match.start(), match.start() + len(url)
            registered: str | None = None  # an IP address has none
            if pattern is _HOST:
                registered = registrable(match.group(1))
                if registered is None:
                    continue
            if not fresh(start, end):
                continue
            found = _link_finding(view.excerpt(start, end), url, registered, context)
            if found:
                yield found
    for match in _HANDLE.finditer(text):
        if fresh(match.start(), match.end()) and not context.in_signed(match.group(0)):
            yield finding(
                "contact",
                view.excerpt(match.start(), match.end()),
                "a messaging account or channel: email to the support address is "
                "the only channel (§2)",
            )
    yield from _phones(view, context, fresh)


_REFERENCE_BEFORE = re.compile(
    r"(?:order|bestellung|pedido|commande|ordine|bestelling|encomenda|tracking|reference|ref|"
    r"case|ticket|invoice|rechnung|factura|facture|fattura|factuur)\s*(?:number|no\.?|nr\.?|"
    r"n[°º]|#|:)?\s*$",
    re.I,
)
# Seven digits or more, however grouped: libphonenumber is asked only when there are.
_DIGIT_RUN = re.compile(r"(?:\d[\s().\-/]{0,3}){7,}")


def _phones(view: NormalText, context: DraftContext, fresh) -> Iterator[GroundingFinding]:
    if not _DIGIT_RUN.search(view.text):
        return
    import phonenumbers  # only where seven digits stand

    # Every region we serve, whatever the customer's language: a finding must never
    # depend on the context more than on what the draft says.
    regions = dict.fromkeys(
        (_PHONE_REGIONS.get(context.language, "US"), *_PHONE_REGIONS.values(), "GB")
    )
    seen: set[tuple[int, int]] = set()
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(
            view.text, region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            digits = re.sub(r"\D", "", match.raw_string)
            span = (match.start, match.end)
            if len(digits) < 7 or span in seen or _POSTCODE.match(match.raw_string):
                continue
            seen.add(span)
            before = view.text[max(0, match.start - 1) : match.start]
            if re.search(r"\d[ \t]?$", view.text[max(0, match.start - 2) : match.start]):
                continue  # the tail of a longer number (a tracking number), not a phone
            if before and (before.isalnum() or before == "-"):
                continue  # part of a reference such as CR-48213-77: the identifier check's
            if _REFERENCE_BEFORE.search(view.text[max(0, match.start - 24) : match.start]):
                continue  # "order 2290417", "order no. 2290417": a reference, not a phone
            if not fresh(*span) or digits in _own_numbers(context):
                continue
            yield finding(
                "phone",
                view.excerpt(*span),
                "a phone number: email to the support address is the only channel (§2)",
            )


_POSTCODE = re.compile(r"^\d{4}-\d{3}$")  # Portugal's, which libphonenumber would call a number
_NUMBER_ON_A_LINE = re.compile(r"(?:\d[ \t().\-/]{0,3}){7,}")
_FIRST_PERSON = re.compile(
    r"\b(?:me|my|mine|i|moi|mon|ma|mes|je|mi|mí|mich|mir|mein|meine|ich|meu|minha|mio|mia|"
    r"mij|mijn|ik)\b|(?:tel|phone|mobile|mob|cell|tél|téléphone|teléfono|telefon|telefone|"
    r"telefono|telefoon|handy|móvil|portable|cellulare|gsm|number|nummer|numéro|número|numero)",
    re.I,
)


def _own_numbers(context: DraftContext) -> frozenset[str]:
    """The customer's own phone numbers: in their own words next to "me"/"my" or a phone
    label ("call me back on …", "Tel: …"), or on a line of their own (a signature)."""
    found = set()
    text = context.signed
    for match in _NUMBER_ON_A_LINE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        before = text[max(0, match.start() - 60) : match.start()]
        if _FIRST_PERSON.search(before) or len(re.sub(r"[\d\s().+\-/]", "", line)) <= 12:
            found.add(digits)
    return frozenset(found)
