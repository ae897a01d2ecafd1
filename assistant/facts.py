"""Facts in the inquiry itself that a reply may repeat: name, order numbers, products."""

from __future__ import annotations

import re

from assistant.models import InquiryFacts

ORDER_NUMBER = re.compile(
    r"(?:order|bestellung|pedido|commande|ordine|bestelling|encomenda|n[º°o]\.?|#)\s*"
    r"(?:number|nummer|número|numéro|numero|no\.?|nr\.?|num\.?|:|#)?\s*[:#]?\s*"
    r"([A-Z]{0,3}-?\d[\d-]{3,14}\d)\b|\b(CR-?\d{5,10})\b",
    re.I,
)
PRODUCTS = re.compile(
    r"\b((?:Classic|Baya|Echo|Bistro|Crocband|Mellow|Dylan|Literide|Getaway|Brooklyn|Splash|"
    r"Crush|Stomp|Off Grid|Duet|Swiftwater)\s+(?:Lined\s+)?(?:Clogs?|Sandals?|Sneakers?|Slides?|"
    r"Flips?|Platform(?:\s+Clogs?)?)|Jibbitz(?:\s+(?:charms?|packs?|\d-pack))?)\b",
    re.I,
)
GENERIC_PRODUCTS = re.compile(r"\b(clogs?|sandals?|sneakers?|jibbitz|charms?)\b", re.I)


def extract_facts(text: str, from_name: str | None = None) -> InquiryFacts:
    orders = []
    for match in ORDER_NUMBER.finditer(text):
        number = (match.group(1) or match.group(2)).upper()
        if number not in orders and sum(ch.isdigit() for ch in number) >= 5:
            orders.append(number)
    products: list[str] = []
    for match in PRODUCTS.finditer(text):
        name = " ".join(
            word.capitalize() if word.islower() else word for word in match.group(1).split()
        )
        if name.lower() not in (p.lower() for p in products):
            products.append(name)
    if not products:
        generic = GENERIC_PRODUCTS.search(text)
        if generic:
            products.append(generic.group(1).lower())
    return InquiryFacts(
        customer_name=_first_name(from_name), order_numbers=orders[:3], products=products[:3]
    )


def _first_name(from_name: str | None) -> str | None:
    """ "Maria Lopez" → "Maria"; an address or a company-looking name gives None."""
    if not from_name or "@" in from_name:
        return None
    name = from_name.strip().strip('"').strip()
    if "," in name:  # "Lopez, Maria"
        name = name.split(",", 1)[1].strip()
    first = name.split()[0] if name.split() else ""
    if not first.isalpha() or len(first) < 2 or first.isupper() and len(first) > 3:
        return None
    return first.capitalize() if first.islower() else first
