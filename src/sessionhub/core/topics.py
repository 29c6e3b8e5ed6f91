"""Top topics of a conversation: the most frequent content words of the user's messages.

Words are runs of letters (three or more), lower-cased; stopwords of the chosen language
and words of chat filler are left out. Ties go alphabetically, so the answer is stable.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from sessionhub.models import StopwordLanguage, Topic

_WORD = re.compile(r"[^\W\d_]{3,}")

_STOPWORDS_TEXT: dict[str, str] = {
    "en": """
        about above after again against all also and any are aren because been before being
        below between both but can cannot could couldn did didn does doesn doing don down
        during each few for from further get got had hadn has hasn have haven having her here
        hers herself him himself his how into isn its itself just let like lot may might more
        most much must mustn myself need nor not now off once only other ought our ours
        ourselves out over own please same shall shan she should shouldn some such than thank
        thanks that the their theirs them themselves then there these they this those through
        too under until very want was wasn way well were weren what when where which while who
        whom why will with won would wouldn yes you your yours yourself yourselves hello
        okay one two any many something anything tell show give know think see look looking
        """,
    "de": """
        aber alle allem allen aller alles als also am an andere anderen auch auf aus bei bin
        bis bist bitte da damit dann das dass dein deine dem den der des dessen die dies diese
        diesem diesen dieser dieses doch dort durch ein eine einem einen einer eines etwas
        euch euer für gegen gibt habe haben hat hatte hier hin hinter ich ihm ihn ihnen ihr
        ihre im in ist jede jedem jeden jeder jetzt kann kein keine können machen man mehr
        mein meine mich mir mit muss nach nicht nichts noch nun nur oder ohne sehr sein seine
        sich sie sind so soll über um und uns unser unter viel vom von vor war waren was weil
        welche wenn wer werden wie wieder will wir wird wo zu zum zur zwischen danke hallo
        """,
    "fr": """
        alors aux avec avez avoir bien bonjour car ces cela cet cette ceux chez comme comment
        dans des donc dont elle elles encore est êtes étaient était été être eux faire fait
        ils les leur leurs lui mais mes merci moi mon même nos notre nous par pas peu peut
        plus pour pourquoi quand que quel quelle quelles quels qui sans ses son sont sous
        suis sur svp ton tous tout toute toutes très une vos votre vous
        """,
    "es": """
        algo algunos ante antes como con contra cual cuando del desde donde durante ella
        ellas ellos entre era eres esa esas ese eso esos esta está estaba estamos están estar
        este esto estos estoy fue gracias hay hola las les los más mis mucho muy nada nos
        nosotros otra otro para pero poco por porque qué que quien quiero sea ser sin sobre
        son soy también tan tengo tiene todo todos una uno unos usted vosotros
        """,
    "it": """
        agli alla alle allo anche che chi ciao come con cosa dal dalla dei del della delle
        dello dove essere gli grazie hai hanno io loro lui lei mia mio molto nel nella nelle
        non per perché più quale quando quello questa questo sei sono sua suo sul sulla tra
        tutti tutto una uno vorrei
        """,
    "nl": """
        aan alle als bij dan dat deze die dit door een eens en geen had heb hebben heeft hem
        het hier hij hoe ik in is jij kan kunnen maar meer met mij mijn naar niet nog nu
        ook onder ons over te tot uit van veel voor wat we wel werd wie wij wil zal ze zich
        zijn zo zou bedankt dank hallo
        """,
    "pt": """
        ainda aos aquela aquele até com como das dela dele dos ela elas ele eles essa esse
        esta este está estou foi isso isto mais mas meu minha muito não nas nos nossa nosso
        obrigado olá para pela pelo por porque quando que quem sem ser seu sua são também
        tem tenho uma umas uns você vocês
        """,
}
STOPWORDS: dict[str, frozenset[str]] = {
    language: frozenset(text.split()) for language, text in _STOPWORDS_TEXT.items()
}


def top_topics(
    texts: Iterable[str], language: StopwordLanguage = "en", limit: int = 5
) -> list[Topic]:
    """The ``limit`` most frequent content words in ``texts``, most frequent first."""
    stop = STOPWORDS[language]
    counts = Counter(
        word for text in texts for word in _WORD.findall(text.lower()) if word not in stop
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Topic(word=word, count=count) for word, count in ranked[:limit]]
