"""The messages of the web pages, in French and English: key -> {lang: text}.

A text may hold ``{name}`` fields (filled by ``i18n.translate``) and be a (singular,
plural) pair chosen by ``n``. Keys are grouped by page or by part of a page. Data labels
(categories, kinds, roles, legal forms…) are not here: they come from the vocabulary
(``ssefed.vocab.labels``, ``ssefed.domain.categories``)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str | tuple[str, str]]] = {
    # site header (base.html)
    "nav.label": {"fr": "Navigation du site", "en": "Site navigation"},
    "nav.search": {"fr": "Chercher", "en": "Search"},
    "nav.chains": {"fr": "Filières", "en": "Supply chains"},
    "nav.gaps": {"fr": "Manques", "en": "Gaps"},
    "nav.other_language": {"fr": "English", "en": "Français"},

    # home page
    "home.what": {
        "fr": "Ce site est l'annuaire du réseau : ses organisations membres de l'économie "
              "sociale et solidaire, ce qu'elles offrent et ce qu'elles cherchent. Il est "
              "partagé en données ouvertes avec d'autres réseaux, par ActivityPub, pour "
              "trouver ensemble des fournisseurs solidaires et des filières entières.",
        "en": "This site is the network's directory: its member organisations of the social "
              "and solidarity economy, what they offer and what they need. It is shared as "
              "open data with other networks, over ActivityPub, to find solidarity suppliers "
              "and whole supply chains together."},
    "home.follow_network": {"fr": "Suivre le réseau depuis le fédivers :",
                            "en": "Follow the network from the fediverse:"},
    "home.counts": {"fr": "Le réseau en chiffres", "en": "The network in figures"},
    "home.n_members": {"fr": ("organisation membre", "organisations membres"),
                       "en": ("member organisation", "member organisations")},
    "home.n_validated": {"fr": ("validée par le réseau", "validées par le réseau"),
                         "en": ("validated by the network", "validated by the network")},
    "home.n_offers": {"fr": ("offre", "offres"), "en": ("offer", "offers")},
    "home.n_demands": {"fr": ("demande", "demandes"), "en": ("demand", "demands")},
    "home.explore": {"fr": "Explorer l'annuaire", "en": "Explore the directory"},
    "home.link_search": {"fr": "Chercher une organisation, une offre ou une demande",
                         "en": "Search for an organisation, an offer or a demand"},
    "home.link_chains": {"fr": "Trouver une filière solidaire, du champ à l'assiette",
                         "en": "Find a solidarity supply chain, from field to plate"},
    "home.link_gaps": {"fr": "Voir les manques du territoire (demandes sans offre, "
                             "secteurs sans membre)",
                       "en": "See the territory's gaps (demands with no offer, sectors with "
                             "no member)"},
    "home.link_api": {"fr": "API : organisations, offres et demandes (JSON)",
                      "en": "API: organisations, offers and demands (JSON)"},
    "home.link_health": {"fr": "État du nœud", "en": "Node health"},
    "home.map_title": {"fr": ("Carte de l'organisation membre", "Carte des {n} organisations membres"),
                       "en": ("Map of the member organisation", "Map of the {n} member organisations")},
    "home.cluster": {"fr": ("{n} organisation, {place}", "{n} organisations, autour de {place}"),
                     "en": ("{n} organisation, {place}", "{n} organisations, around {place}")},
    "home.cluster_here": {"fr": ("{n} organisation ici", "{n} organisations ici"),
                          "en": ("{n} organisation here", "{n} organisations here")},
    "home.map_caption": {"fr": "Où sont les membres. Chaque point mène à la page de "
                               "l'organisation.",
                         "en": "Where the members are. Each point leads to the "
                               "organisation's page."},
    "home.recent_offers": {"fr": "Offres récentes", "en": "Recent offers"},
    "home.recent_demands": {"fr": "Demandes récentes", "en": "Recent demands"},
    "home.none_yet": {"fr": "Aucune pour l'instant.", "en": "None yet."},
    "home.members": {"fr": "Les membres", "en": "The members"},
    "home.no_members": {"fr": "Le réseau n'a pas encore de membre.",
                        "en": "The network has no member yet."},
    "home.first_members": {"fr": "Les groupes, la carte et le nombre de membres validés portent "
                                 "sur les {n} premiers membres par ordre alphabétique.",
                           "en": "The groups, the map and the number of validated members cover "
                                 "the first {n} members in alphabetical order."},
    "group.by": {"fr": "Regroupés par :", "en": "Grouped by:"},
    "group.by_sector": {"fr": "secteur d'activité", "en": "economic sector"},
    "group.by_legal_form": {"fr": "forme juridique", "en": "legal form"},
    "group.none_sector": {"fr": "Secteur non renseigné", "en": "Sector not given"},
    "group.none_legal_form": {"fr": "Forme juridique non renseignée",
                              "en": "Legal form not given"},
    "group.more": {"fr": ("et {n} autre : {group}", "et {n} autres : {group}"),
                   "en": ("and {n} more: {group}", "and {n} more: {group}")},

    # guarantee (validation by the network)
    "guarantee.title": {"fr": "Garantie du réseau", "en": "The network's guarantee"},
    "guarantee.decision": {
        "fr": "Validation participative : {count} soutiens ({colleges}).",
        "en": "Participatory validation: {count} endorsements ({colleges})."},
    "guarantee.decision_link": {"fr": "la décision", "en": "the decision"},
    "guarantee.application": {
        "fr": "Demande d'adhésion en cours : {count} soutiens pour l'instant.",
        "en": "Membership application under review: {count} endorsements so far."},
    "guarantee.badge_validated": {"fr": "validée", "en": "validated"},
    "guarantee.badge_expired": {"fr": "validation expirée", "en": "validation expired"},
    "guarantee.badge_unvalidated": {"fr": "non validée", "en": "not validated"},
    "guarantee.validated_until": {
        "fr": "{network} garantit que cette organisation relève de l'économie sociale et "
              "solidaire, jusqu'au {date}.",
        "en": "{network} vouches that this organisation belongs to the social and solidarity "
              "economy, until {date}."},
    "guarantee.validated": {
        "fr": "{network} garantit que cette organisation relève de l'économie sociale et "
              "solidaire.",
        "en": "{network} vouches that this organisation belongs to the social and solidarity "
              "economy."},
    "guarantee.expired_on": {
        "fr": "La validation par {network} a pris fin le {date} : elle n'est plus garantie.",
        "en": "The validation by {network} ended on {date}: it is no longer guaranteed."},
    "guarantee.expired": {"fr": "La validation par {network} a pris fin.",
                          "en": "The validation by {network} has ended."},
    "guarantee.unvalidated": {"fr": "{network} n'a pas (encore) validé cette organisation.",
                              "en": "{network} has not validated this organisation (yet)."},

    # organisation page
    "org.followers": {"fr": ("{n} abonné", "{n} abonnés"), "en": ("{n} follower", "{n} followers")},
    "org.about": {"fr": "L'organisation", "en": "The organisation"},
    "org.legal_form": {"fr": "Forme juridique", "en": "Legal form"},
    "org.sectors": {"fr": "Secteurs d'activité", "en": "Economic sectors"},
    "org.qualifiers": {"fr": "Qualificatifs", "en": "Qualifiers"},
    "org.place": {"fr": "Adresse", "en": "Address"},
    "org.website": {"fr": "Site web", "en": "Website"},
    "org.email": {"fr": "Courriel", "en": "E-mail"},
    "org.phone": {"fr": "Téléphone", "en": "Phone"},
    "org.accessible_premises": {"fr": "Locaux accessibles", "en": "Accessible premises"},
    "org.accessible_premises_yes": {"fr": "oui (personnes à mobilité réduite)",
                                    "en": "yes (reduced mobility)"},
    "org.map_title": {"fr": "Carte : où est {name}", "en": "Map: where {name} is"},
    "org.map_caption": {"fr": "Position : {lat}, {lon} (latitude, longitude), en rouge ; "
                              "les autres points sont les membres voisins.",
                        "en": "Position: {lat}, {lon} (latitude, longitude), in red; the other "
                              "points are the neighbouring members."},
    "org.offers": {"fr": "Ses offres", "en": "Its offers"},
    "org.demands": {"fr": "Ses demandes", "en": "Its demands"},
    "org.no_offers": {"fr": "Aucune offre publiée.", "en": "No offer published."},
    "org.no_demands": {"fr": "Aucune demande publiée.", "en": "No demand published."},

    # follow box
    "follow.title": {"fr": "Suivre depuis le fédivers", "en": "Follow from the fediverse"},
    "follow.handle": {"fr": "Adresse à suivre", "en": "Handle to follow"},
    "follow.hint": {
        "fr": "Depuis n'importe quel compte du fédivers (Mastodon, Misskey, Friendica…), "
              "collez {handle} dans la recherche de votre serveur, puis choisissez « Suivre » : "
              "ses nouvelles offres et demandes arriveront dans votre fil.",
        "en": "From any fediverse account (Mastodon, Misskey, Friendica…), paste {handle} "
              "into your server's search box, then choose \"Follow\": its new offers and "
              "demands will reach your timeline."},

    # offer page
    "direction.offer": {"fr": "Offre", "en": "Offer"},
    "direction.demand": {"fr": "Demande", "en": "Demand"},
    "offer.by": {"fr": "par", "en": "by"},
    "offer.category": {"fr": "Catégorie", "en": "Category"},
    "offer.chains_link": {"fr": "filières de cette catégorie", "en": "supply chains of this category"},
    "offer.inputs": {"fr": "Intrants", "en": "Inputs"},
    "offer.kind": {"fr": "Nature", "en": "Kind"},
    "offer.role": {"fr": "Rôle dans la filière", "en": "Supply-chain role"},
    "offer.exchange": {"fr": "Mode d'échange", "en": "Exchange mode"},
    "offer.market": {"fr": "marchand", "en": "market"},
    "offer.non_market": {"fr": "non marchand", "en": "non-market"},
    "offer.quantity": {"fr": "Quantité", "en": "Quantity"},
    "offer.price": {"fr": "Prix", "en": "Price"},
    "offer.validity": {"fr": "Validité", "en": "Validity"},
    "offer.valid_until": {"fr": "valable jusqu'au {date}", "en": "valid until {date}"},
    "offer.expired_on": {"fr": "expirée le {date}", "en": "expired on {date}"},
    "offer.expired": {"fr": "expirée", "en": "expired"},
    "offer.no_end": {"fr": "sans date de fin", "en": "no end date"},
    "offer.published": {"fr": "Publiée le", "en": "Published on"},
    "offer.map_title": {"fr": "Carte : où est « {title} »", "en": "Map: where \"{title}\" is"},
    "offer.map_caption": {"fr": "Lieu : {lat}, {lon} (latitude, longitude).",
                          "en": "Place: {lat}, {lon} (latitude, longitude)."},

    # reports (organisation page)
    "report.open_title": {"fr": "Signalements en cours", "en": "Open reports"},
    "report.badge": {"fr": "signalé", "en": "reported"},
    "report.notice_wrong": {"fr": "Des informations de cette page ont été signalées comme "
                                  "erronées le {date}.",
                            "en": "Information on this page was reported as wrong on {date}."},
    "report.notice_outdated": {"fr": "Des informations de cette page ont été signalées comme "
                                     "obsolètes le {date}.",
                               "en": "Information on this page was reported as outdated on "
                                     "{date}."},
    "report.notice_other": {"fr": "Des informations de cette page ont été signalées le {date} "
                                  "(autre motif).",
                            "en": "Information on this page was reported on {date} (other "
                                  "reason)."},
    "report.more": {"fr": ("Et {n} autre signalement en cours.",
                           "Et {n} autres signalements en cours."),
                    "en": ("And {n} other open report.", "And {n} other open reports.")},
    "report.being_checked": {"fr": "Le réseau vérifie ces informations avec l'organisation.",
                             "en": "The network is checking this information with the "
                                   "organisation."},
    "report.form_title": {"fr": "Signaler une information erronée ou obsolète",
                          "en": "Report wrong or outdated information"},
    "report.form_intro": {"fr": "Une information de cette page est fausse ou n'est plus à "
                                "jour ? Dites-le au réseau et à l'organisation. Aucun compte "
                                "n'est nécessaire, et votre texte n'est pas publié.",
                          "en": "Is something on this page wrong or no longer up to date? "
                                "Tell the network and the organisation. No account is "
                                "needed, and your text is not published."},
    "report.object": {"fr": "Ce qui est concerné", "en": "What it is about"},
    "report.object_org": {"fr": "L'organisation elle-même (sa fiche)",
                          "en": "The organisation itself (its profile)"},
    "report.reason": {"fr": "Motif", "en": "Reason"},
    "report.reason_wrong": {"fr": "Information erronée", "en": "Wrong information"},
    "report.reason_outdated": {"fr": "Information obsolète (plus à jour)",
                               "en": "Outdated information (no longer true)"},
    "report.reason_other": {"fr": "Autre", "en": "Other"},
    "report.text": {"fr": "Précisions (facultatif, {max} caractères au plus)",
                    "en": "Details (optional, at most {max} characters)"},
    "report.send": {"fr": "Envoyer le signalement", "en": "Send the report"},
    "report.thanks": {"fr": "Merci : votre signalement a été transmis au réseau et à "
                            "l'organisation.",
                      "en": "Thank you: your report was passed on to the network and the "
                            "organisation."},
    "report.not_sent": {"fr": "Le signalement n'a pas été envoyé :",
                        "en": "The report was not sent:"},
    "report.error_object": {"fr": "choisissez l'organisation ou une de ses offres.",
                            "en": "choose the organisation or one of its offers."},
    "report.error_reason": {"fr": "choisissez un motif.", "en": "choose a reason."},
    "report.error_text": {"fr": "les précisions sont trop longues ({max} caractères au plus).",
                          "en": "the details are too long (at most {max} characters)."},
    "report.error_rate": {"fr": "trop de signalements depuis votre adresse ; réessayez dans "
                                "une minute.",
                          "en": "too many reports from your address; try again in a minute."},
    "report.error_full": {"fr": "cette organisation a déjà de nombreux signalements en cours ; "
                                "le réseau les examine.",
                          "en": "this organisation already has many open reports; the "
                                "network is looking at them."},
}
