"""Policy §3: which inquiries are urgent, and the rule that says so.

The policy names two urgent cases (lost packages marked as delivered, incorrect items
received); damaged items, double charges and taken-over accounts are of the same weight.
Patterns cover the languages our customers write in, so urgent mail is never missed
because it is in Spanish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.models import Urgency


@dataclass(frozen=True)
class UrgencyRule:
    name: str
    description: str
    pattern: re.Pattern[str]


def _rule(name: str, description: str, *patterns: str) -> UrgencyRule:
    return UrgencyRule(name, description, re.compile("|".join(patterns), re.I | re.S))


_NOT_RECEIVED = (
    r"(?:not|never|n't|no)\s+(?:\w+\s+){0,3}(?:receiv|arriv|got|get|come|show|see|found|there|here)"
)
URGENCY_RULES: tuple[UrgencyRule, ...] = (
    _rule(
        "lost_package_marked_delivered",
        "package marked as delivered but not received (§3)",
        rf"(?:marked|shows?|showing|says|listed|status\w*|confirm\w*)\s+(?:\w+\s+){{0,4}}"
        rf"delivered.{{0,120}}?{_NOT_RECEIVED}",
        rf"delivered.{{0,60}}?(?:but|yet|however).{{0,60}}?{_NOT_RECEIVED}",
        rf"{_NOT_RECEIVED}\w*.{{0,80}}?(?:marked|shows?|says|listed)\s+(?:as\s+)?delivered",
        r"(?:package|parcel|order|box)\s+(?:\w+\s+){0,3}(?:lost|stolen|missing)",
        r"entregad[oa].{0,80}?no\s+(?:\w+\s+){0,2}(?:recibid|llegad|recibí|ha llegado)",
        r"livr[ée]e?s?.{0,80}?(?:pas|jamais|rien)\s+(?:\w+\s+){0,2}(?:reçu|arrivé)",
        r"(?:zugestellt|geliefert).{0,80}?(?:nicht|nie|kein\w*)\s+(?:\w+\s+){0,2}"
        r"(?:erhalten|angekommen|bekommen)",
        r"consegnat[oa].{0,80}?non\s+(?:\w+\s+){0,3}(?:ricevut|arrivat)",
        r"entregue.{0,80}?(?:não|nunca)\s+(?:\w+\s+){0,2}(?:recebi|chegou)",
        r"(?:bezorgd|afgeleverd|geleverd).{0,80}?(?:niet|nooit|niks|niets)\s+(?:\w+\s+){0,2}"
        r"(?:ontvangen|aangekomen|gekregen)",
        r"paquete\s+(?:\w+\s+){0,2}(?:perdido|robado)|colis\s+(?:\w+\s+){0,2}(?:perdu|volé)",
        r"paket\s+(?:\w+\s+){0,3}(?:verloren|gestohlen|verschwunden)|pacco\s+(?:\w+\s+){0,2}(?:perso|smarrito)",
    ),
    _rule(
        "incorrect_item_received",
        "incorrect item received (§3)",
        r"\bwrong\s+(?:\w+\s+){0,2}(?:item|size|colou?r|shoe|pair|product|order|model|"
        r"clogs?|sandals?|sneakers?|charms?|jibbitz|package|parcel|thing)",
        r"(?:sent|shipped|received|got|delivered|arrived)\s+(?:me\s+)?(?:the\s+|a\s+)?wrong",
        r"not\s+what\s+i\s+ordered|(?:isn't|is not|aren't|are not|wasn't)\s+"
        r"(?:\w+\s+){0,3}(?:i|we)\s+ordered|instead\s+of\s+(?:the\s+)?(?:\w+\s+){0,3}i\s+ordered",
        r"(?:artículo|producto|talla|color|modelo|pedido)\s+(?:\w+\s+)?equivocad[oa]|"
        r"equivocaron|no\s+es\s+lo\s+que\s+(?:pedí|compré)",
        r"mauvais(?:e)?\s+(?:article|produit|taille|couleur|modèle|colis|paire)|"
        r"pas\s+ce\s+que\s+j'ai\s+commandé|erreur\s+(?:de|dans\s+(?:la|ma))\s+commande",
        r"falsche[nrs]?\s+(?:Artikel|Produkt|Größe|Farbe|Schuhe?|Modell|Paket|Ware)|"
        r"nicht\s+(?:das|die|den)\s+(?:\w+\s+){0,2}bestellt",
        r"(?:articolo|prodotto|taglia|colore|modello|paio)\s+sbagliat[oa]|"
        r"non\s+(?:è|sono)\s+quell[oia]\s+che\s+ho\s+ordinato",
        r"(?:produto|item|artigo|tamanho|modelo|cor)\s+errad[oa]|não\s+é\s+o\s+que\s+(?:eu\s+)?(?:pedi|encomendei)",
        r"verkeerde\s+(?:artikel|product|maat|kleur|schoenen|model|pakket|bestelling)|"
        r"niet\s+wat\s+ik\s+(?:heb\s+)?besteld",
    ),
    _rule(
        "damaged_item_received",
        "damaged or defective item received (same weight as §3's incorrect item)",
        r"(?:arrived|came|received|delivered|showed up|got (?:it|them))\s+(?:\w+\s+){0,4}"
        r"(?:damaged|broken|torn|ripped|defective|cracked|crushed|split|faulty)",
        r"(?:damaged|broken|torn|ripped|defective|cracked|faulty)\s+(?:\w+\s+){0,2}"
        r"(?:item|shoes?|clogs?|sandals?|sneakers?|pair|product|package|parcel|box|charms?|strap|sole)",
        r"(?:llegaron|llegó|recibí)\s+(?:\w+\s+){0,3}(?:dañad|rot|defectuos)|(?:dañad|defectuos)[oa]s?",
        r"(?:arrivée?s?|reçue?s?)\s+(?:\w+\s+){0,3}(?:endommagée?s?|abîmée?s?|cassée?s?|déchirée?s?)|"
        r"défectueu(?:x|se)",
        r"(?:beschädigt|kaputt|defekt|zerrissen)\w*",
        r"(?:arrivat[oie]|ricevut[oie])\s+(?:\w+\s+){0,3}(?:danneggiat|rott|difettos)|difettos[oie]|danneggiat[oie]",
        r"(?:chegou|chegaram|recebi)\s+(?:\w+\s+){0,3}(?:danificad|quebrad|rasgad|defeituos)|defeituos[oa]s?",
        r"(?:beschadigd|kapot|defect|gescheurd)",
    ),
    _rule(
        "charged_twice",
        "charged twice (same weight as §3's urgent cases)",
        r"(?:charged|billed|debited)\s+(?:\w+\s+){0,3}(?:twice|two\s+times|double|2\s*x|2\s+times)",
        r"double[-\s]?(?:charged|charge|billed|payment)|duplicate\s+(?:charge|payment|transaction)s?|"
        r"two\s+(?:identical\s+)?(?:charges|payments|transactions)",
        r"cobr\w+\s+dos\s+veces|(?:cobro|cargo)\s+(?:doble|duplicado)|doble\s+cargo",
        r"(?:débité|facturé|prélevé)e?s?\s+deux\s+fois|double\s+(?:prélèvement|débit|paiement)",
        r"doppelt\s+(?:\w+\s+){0,2}(?:belastet|abgebucht|berechnet|bezahlt)|zweimal\s+(?:\w+\s+){0,2}(?:abgebucht|belastet|berechnet)",
        r"addebitat[oi]\s+(?:\w+\s+){0,2}due\s+volte|doppio\s+addebito",
        r"cobrad[oa]s?\s+(?:\w+\s+){0,2}duas\s+vezes|cobrança\s+(?:duplicada|dupla)",
        r"(?:twee\s+keer|dubbel)\s+(?:\w+\s+){0,2}(?:afgeschreven|betaald|gefactureerd|in\s+rekening)",
    ),
    _rule(
        "account_compromised",
        "account taken over (same weight as §3's urgent cases)",
        r"\b(?:hacked|compromised|hijacked)\b",
        r"(?:someone|somebody|stranger)\s+(?:else\s+)?(?:\w+\s+){0,3}(?:logged|log|signed|accessed|"
        r"got|broke|changed)\s+(?:\w+\s+){0,2}(?:in|into|my)",
        r"unauthori[sz]ed\s+(?:\w+\s+){0,2}(?:access|login|log-in|sign-in|orders?|purchases?|charges?|changes?)",
        r"(?:did\s*n[o']t|never)\s+(?:make|place|order)\s+(?:this|these|that|those)\s+(?:orders?|purchases?)",
        r"hacke(?:ad[oa]|aron)|acceso\s+no\s+autorizado|piraté|accès\s+non\s+autorisé|gehackt|"
        r"unbefugt\w*|hackerat[oa]|accesso\s+non\s+autorizzato|invadid[oa]|onbevoegd\w*",
    ),
)


@dataclass(frozen=True)
class UrgencyVerdict:
    urgency: Urgency
    rule: str | None
    description: str | None


def assess_urgency(text: str) -> UrgencyVerdict:
    """Urgent if any §3 rule fires; the first rule that fired is the reason."""
    for rule in URGENCY_RULES:
        if rule.pattern.search(text):
            return UrgencyVerdict(Urgency.urgent, rule.name, rule.description)
    return UrgencyVerdict(Urgency.normal, None, None)
