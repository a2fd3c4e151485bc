"""Index settings, analyzers and mappings (the reasons are in docs/search.md, "Mapping").

- Text (``name``, ``brand``, ``description``, category path names, attribute text) uses
  ``en_text``: standard tokenizer, English possessives removed, lower-cased, ASCII-folded and
  Porter-stemmed, so "Speakers" finds "speaker" and "Café" finds "cafe". No stop-word
  removal: product names like "The Silent Harbor" need every word for phrase matches.
- ``name.autocomplete`` / ``brand.autocomplete``: edge n-grams (1-20) at index time and the
  plain lower-cased words at search time, so every typed word matches as a word prefix.
- ``spell`` (copied from name, brand and category names; un-stemmed) and ``spell.shingle``
  (2-3 word shingles) feed the phrase suggester behind ``didYouMean``.
- ``*.raw`` keyword sub-fields and keyword fields (ids, availability, attributes) serve
  filters, facets and sorts from doc values; nothing sorts or aggregates on text.
- ``attributes`` is ``nested`` so that a filter on Color=Black matches the same attribute
  entry (not "some attribute named Color and some value Black").
- ``popularity`` is a ``rank_feature`` (fed by order counts later); ``offers`` is kept in
  ``_source`` only, so a partial event can rebuild the document without a catalog call.
- ``dynamic: strict``: a document with an unmapped field is a bug and is refused.
"""

from __future__ import annotations

from typing import Any

EN_TEXT = "en_text"

ANALYSIS: dict[str, Any] = {
    "filter": {
        "english_possessive": {"type": "stemmer", "language": "possessive_english"},
        "english_stemmer": {"type": "stemmer", "language": "english"},
        "prefix_grams": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20},
        "shingle_2_3": {
            "type": "shingle",
            "min_shingle_size": 2,
            "max_shingle_size": 3,
            "output_unigrams": True,
        },
    },
    "analyzer": {
        EN_TEXT: {
            "tokenizer": "standard",
            "filter": ["english_possessive", "lowercase", "asciifolding", "english_stemmer"],
        },
        "prefix_index": {
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", "prefix_grams"],
        },
        "prefix_search": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        "spell": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        "spell_shingle": {
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", "shingle_2_3"],
        },
    },
}

_KEYWORD = {"type": "keyword"}
_RAW = {"raw": {"type": "keyword", "ignore_above": 256}}
_AUTOCOMPLETE = {
    "autocomplete": {
        "type": "text",
        "analyzer": "prefix_index",
        "search_analyzer": "prefix_search",
    }
}

PRODUCT_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "version": {"type": "long"},
        "archived": {"type": "boolean"},
        "name": {
            "type": "text",
            "analyzer": EN_TEXT,
            "copy_to": "spell",
            "fields": {**_RAW, **_AUTOCOMPLETE},
        },
        "description": {"type": "text", "analyzer": EN_TEXT},
        "brand": {
            "type": "text",
            "analyzer": EN_TEXT,
            "copy_to": "spell",
            "fields": {**_RAW, **_AUTOCOMPLETE},
        },
        "category": {
            "properties": {
                "id": _KEYWORD,
                # root first, ending with the product's own category: the subtree filter
                "path_ids": _KEYWORD,
                "path_names": {"type": "text", "analyzer": EN_TEXT, "copy_to": "spell"},
                # "<parent id>/<child id>" per level ("/<root id>" for the root): the
                # category facet lists the children of the selected category
                "edges": _KEYWORD,
            }
        },
        "owner_seller_id": _KEYWORD,
        "seller_ids": _KEYWORD,
        "offers": {"type": "object", "enabled": False},
        "base_price": {"type": "long"},
        "min_price": {"type": "long"},
        "currency": _KEYWORD,
        "availability": _KEYWORD,
        "in_stock": {"type": "boolean"},
        "attributes": {
            "type": "nested",
            "properties": {"name": _KEYWORD, "value": _KEYWORD},
        },
        "attributes_text": {"type": "text", "analyzer": EN_TEXT},
        "popularity": {"type": "rank_feature"},
        "created_at": {"type": "date"},
        "spell": {
            "type": "text",
            "analyzer": "spell",
            "fields": {"shingle": {"type": "text", "analyzer": "spell_shingle"}},
        },
    },
}

CATEGORY_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "name": {"type": "keyword", "index": False},
        "parent_id": _KEYWORD,
        "ancestors": _KEYWORD,
        "version": {"type": "long"},
        "deleted": {"type": "boolean"},
    },
}


def product_index_body(*, shards: int, replicas: int, building: bool = False) -> dict[str, Any]:
    """A products index; ``building`` turns off refreshes and replicas for a bulk load."""
    return {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "number_of_replicas": 0 if building else replicas,
                "refresh_interval": "-1" if building else "1s",
            },
            "analysis": ANALYSIS,
        },
        "mappings": PRODUCT_MAPPINGS,
    }


def serving_settings(*, replicas: int) -> dict[str, Any]:
    """What a freshly built index switches to before it takes traffic."""
    return {"index": {"number_of_replicas": replicas, "refresh_interval": "1s"}}


def category_index_body(*, shards: int, replicas: int) -> dict[str, Any]:
    return {
        "settings": {"index": {"number_of_shards": shards, "number_of_replicas": replicas}},
        "mappings": CATEGORY_MAPPINGS,
    }
