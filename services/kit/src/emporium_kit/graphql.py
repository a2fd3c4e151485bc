"""Schema-first federated GraphQL: SDL loading, Federation v2 schema, the ASGI app.

- :func:`load_sdl` reads a package's ``schema/*.graphql`` (sorted, joined).
- :func:`build_schema` is a service's schema: its SDL, its bindables, and field and
  argument names converted to snake_case for the resolvers.
- :func:`make_federated_schema` is Ariadne's ``ariadne.contrib.federation`` schema
  builder. Federation v2 is chosen by the SDL itself: Ariadne looks for
  ``extend schema @link(url: "https://specs.apollo.dev/federation/v2.x", import: [...])``
  and adds that version's directive definitions (bundled up to v2.6; later versions get the
  v2.6 set, and directives it does not know are dropped from ``_service.sdl``). Federation
  v2.9's demand-control directives ``@cost`` and ``@listSize`` are defined here when the SDL
  uses them, so subgraphs can annotate costs for the gateway (which composes from the SDL
  files, not from ``_service.sdl``). Then it adds
  ``_service`` and, when a type has ``@key``, ``_entities`` calling each
  ``FederatedObjectType.reference_resolver`` (once per representation: batch them with a
  per-request DataLoader).
- :func:`graphql_app` builds Ariadne's ``GraphQL`` ASGI app with: a cache of parsed AND
  validated documents keyed by query text (:class:`DocumentCache`; repeated queries skip
  parse + validate), depth/size limits, an orjson request decoder and response encoder,
  and :func:`format_error` (``extensions: {code, kind, field}`` for
  :class:`~emporium_kit.errors.DomainError`, internals hidden in production), and
  :class:`DirectExecutionContext` for cheap completion of resolver-free selections.

:class:`DirectExecutionContext` overrides graphql-core 3.2's execution internals
(``complete_value``, ``collect_subfields``), which 3.3 reworked. The kit's pyproject pins
graphql-core to 3.2 and importing this module fails with :class:`UnsupportedGraphQLCoreError` when
another version is installed, instead of completing results wrongly at run time.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from importlib import resources
from typing import Any, cast

import orjson
from ariadne import convert_schema_names
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLHTTPHandler
from ariadne.contrib.federation import make_federated_schema as _ariadne_federated_schema
from ariadne.contrib.sse import GraphQLHTTPSSEHandler, GraphQLServerSentEvent
from ariadne.exceptions import HttpBadRequestError
from ariadne.executable_schema import SchemaBindables
from ariadne.explorer import ExplorerGraphiQL, ExplorerHttp405
from ariadne.graphql import subscribe
from ariadne.utils import unwrap_graphql_error
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionContext,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    TypeNode,
    default_field_resolver,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    parse,
    validate,
    version_info,
)
from graphql.pyutils import AwaitableOrValue, Path
from graphql.utilities import TypeInfo
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from emporium_kit.errors import DomainError, validation_failed
from emporium_kit.responses import OrjsonResponse
from emporium_kit.text import find_forbidden, forbidden_character, invalid_characters

log = logging.getLogger(__name__)

# graphql-core versions whose execution internals DirectExecutionContext overrides: [low, high)
GRAPHQL_CORE_SUPPORTED = ((3, 2, 5), (3, 3, 0))


class UnsupportedGraphQLCoreError(ImportError):
    """The installed graphql-core is outside :data:`GRAPHQL_CORE_SUPPORTED`."""


def check_graphql_core(installed: Sequence[int]) -> None:
    """Raise :class:`UnsupportedGraphQLCoreError` unless ``installed`` (major, minor, micro) is
    a version the execution fast path was written against."""
    low, high = GRAPHQL_CORE_SUPPORTED
    version = tuple(installed[:3])
    if not low <= version < high:
        shown = ".".join(map(str, version))
        raise UnsupportedGraphQLCoreError(
            f"emporium_kit.graphql supports graphql-core >={'.'.join(map(str, low))},"
            f"<{'.'.join(map(str, high))}; {shown} is installed. DirectExecutionContext"
            " overrides its execution internals: check them against this version before"
            " widening the pin in services/kit/pyproject.toml."
        )


check_graphql_core((version_info.major, version_info.minor, version_info.micro))

MAX_BODY_BYTES = 256 * 1024
# Operations arrive as JSON only (GraphQL over HTTP). A form, multipart or text/plain body is
# what a cross-site <form> can send without a CORS preflight, so none of them runs anything.
JSON_MEDIA_TYPES = frozenset({"application/json"})


def load_sdl(package: str, folder: str = "schema") -> str:
    """All ``<package>/<folder>/*.graphql`` files, in name order, joined by blank lines."""
    root = resources.files(package).joinpath(folder)
    files = sorted((f for f in root.iterdir() if f.name.endswith(".graphql")), key=lambda f: f.name)
    if not files:
        raise FileNotFoundError(f"no .graphql files in {package}/{folder}")
    return "\n\n".join(f.read_text(encoding="utf-8") for f in files)


# Federation v2.9 (https://specs.apollo.dev/cost/v0.1): Ariadne bundles definitions up to v2.6.
_DEMAND_CONTROL_DIRECTIVES = {
    "cost": "directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION"
    " | INPUT_FIELD_DEFINITION | OBJECT | SCALAR",
    "listSize": "directive @listSize(assumedSize: Int, slicingArguments: [String!],"
    " sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION",
}


def make_federated_schema(
    type_defs: str | list[str],
    *bindables: SchemaBindables,
    directives: dict[str, Any] | None = None,
) -> GraphQLSchema:
    """Ariadne's federated schema builder (see the module doc for Federation v2)."""
    sdl = type_defs if isinstance(type_defs, str) else "\n\n".join(type_defs)
    missing = [
        definition
        for name, definition in _DEMAND_CONTROL_DIRECTIVES.items()
        if re.search(rf"@{name}\b", sdl) and not re.search(rf"directive\s+@{name}\b", sdl)
    ]
    return _ariadne_federated_schema([sdl, *missing], *bindables, directives=directives)


def build_schema(
    package: str, *bindables: SchemaBindables, folder: str = "schema"
) -> GraphQLSchema:
    """The federated schema of ``package``'s SDL (:func:`load_sdl`) bound to ``bindables``.

    Resolvers and inputs speak snake_case: an argument ``productId`` arrives as
    ``product_id``, and a field ``totalCount`` is read from ``total_count``.
    """
    schema = make_federated_schema(load_sdl(package, folder), *bindables)
    convert_schema_names(schema, None)
    return schema


class _CachedDocument:
    __slots__ = ("document", "validated")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.validated: dict[
            tuple[int, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
        ] = {}


class DocumentCache:
    """LRU cache of parsed documents and their validation errors, keyed by query text.

    Plug in as Ariadne's ``query_parser`` (:meth:`parse`) and ``query_validator``
    (:meth:`validate`). A miss parses (bounded by ``max_chars`` and ``max_tokens``) and
    validates once; a hit returns the same ``DocumentNode`` and the same (usually empty)
    error list. Validation results are stored per schema and rule set, so a document is
    never treated as valid against rules it was not checked with.
    """

    def __init__(
        self,
        *,
        max_size: int = 1024,
        max_chars: int = 20_000,
        max_tokens: int = 5000,
        max_total_chars: int = 2_000_000,
    ):
        self.max_size = max_size
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        # ASTs grow with the query text: bounding the cached text bounds the memory an
        # attacker sending many distinct queries can pin, not just the entry count
        self.max_total_chars = max_total_chars
        self._total_chars = 0
        self._by_query: OrderedDict[str, _CachedDocument] = OrderedDict()
        self._by_id: dict[int, _CachedDocument] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._by_query)

    def parse(self, _context: Any, data: dict[str, Any]) -> DocumentNode:
        """Ariadne ``query_parser``: the cached document of ``data["query"]``."""
        query: str = data["query"]
        entry = self._by_query.get(query)
        if entry is not None:
            self._by_query.move_to_end(query)
            self.hits += 1
            return entry.document
        self.misses += 1
        if len(query) > self.max_chars:
            raise GraphQLError(
                f"Query is longer than {self.max_chars} characters",
                extensions={"code": "QUERY_TOO_LARGE"},
            )
        document = parse(query, max_tokens=self.max_tokens)
        if self.max_size and len(query) <= self.max_total_chars:
            entry = _CachedDocument(document)
            self._by_query[query] = entry
            self._by_id[id(document)] = entry
            self._total_chars += len(query)
            while len(self._by_query) > self.max_size or self._total_chars > self.max_total_chars:
                evicted_query, evicted = self._by_query.popitem(last=False)
                del self._by_id[id(evicted.document)]
                self._total_chars -= len(evicted_query)
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document_ast: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        type_info: TypeInfo | None = None,
    ) -> list[GraphQLError]:
        """Ariadne ``query_validator``: ``graphql.validate`` once per document and rules."""
        entry = self._by_id.get(id(document_ast))
        if entry is None or entry.document is not document_ast:
            return validate(schema, document_ast, rules, max_errors, type_info)
        key = (id(schema), tuple(rules or ()))
        errors = entry.validated.get(key)
        if errors is None:
            errors = validate(schema, document_ast, rules, max_errors, type_info)
            entry.validated[key] = errors
        return errors


def depth_limit_rule(max_depth: int) -> type[ASTValidationRule]:
    """A validation rule rejecting operations nested deeper than ``max_depth`` fields.

    Fragments are followed (cycles are reported by the standard rules, and cut here);
    introspection fields (``__schema``...) do not count.
    """

    class MaxDepthRule(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            depth = self._depth(node.selection_set, 0, frozenset())
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"Query depth {depth} exceeds the limit of {max_depth}",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )

        def _depth(
            self, selection_set: SelectionSetNode | None, depth: int, seen: frozenset[str]
        ) -> int:
            if selection_set is None or depth > max_depth:
                return depth
            deepest = depth
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    if selection.name.value.startswith("__"):
                        continue
                    deepest = max(deepest, self._depth(selection.selection_set, depth + 1, seen))
                elif isinstance(selection, InlineFragmentNode):
                    deepest = max(deepest, self._depth(selection.selection_set, depth, seen))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is not None and name not in seen:
                        deepest = max(
                            deepest, self._depth(fragment.selection_set, depth, seen | {name})
                        )
            return deepest

    return MaxDepthRule


class TextRule(ASTValidationRule):
    """Refuses string literals with control or direction-override characters
    (:mod:`emporium_kit.text`); ``field`` is the argument path, e.g. ``["input", "name"]``.
    Variables get the same check before execution (:class:`OrjsonGraphQLHandler`)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._path: list[str] = []

    def enter_argument(self, node: Any, *_args: Any) -> None:
        self._path = [node.name.value]

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        self._path.append(node.name.value)

    def leave_object_field(self, _node: ObjectFieldNode, *_args: Any) -> None:
        self._path.pop()

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        code_point = forbidden_character(node.value)
        if code_point is not None:
            refused = invalid_characters(list(self._path), code_point)
            self.report_error(GraphQLError(refused.message, node, original_error=refused))


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """Render an error; ``debug`` (development) adds the exception type to unknown errors.

    - :class:`DomainError` (also when raised as a pydantic ``ValidationError``):
      its message and ``extensions: {code, kind, field[, errors]}``.
    - parse / validation errors: their message, ``code`` ``GRAPHQL_PARSE_FAILED`` /
      ``GRAPHQL_VALIDATION_FAILED`` unless the rule set one.
    - anything else: ``"Internal server error"`` and ``INTERNAL_SERVER_ERROR``; the real
      message only in development.

    Outside development, graphql-core's "Did you mean ...?" suggestions are cut from every
    message: they would map the schema for a client that may not introspect it.
    """
    formatted: dict[str, Any] = {"message": error.message}
    if error.locations:
        formatted["locations"] = [loc._asdict() for loc in error.locations]
    if error.path:
        formatted["path"] = error.path
    original = unwrap_graphql_error(error)
    if isinstance(original, ValidationError):
        original = validation_failed(original)
    if isinstance(original, DomainError):
        formatted["message"] = original.message
        formatted["extensions"] = original.extensions()
    elif original is None or original is error or isinstance(original, GraphQLError):
        source = original if isinstance(original, GraphQLError) else error
        code = "GRAPHQL_PARSE_FAILED" if isinstance(source, GraphQLSyntaxError) else None
        extensions = dict(source.extensions or {})
        extensions.setdefault("code", code or "GRAPHQL_VALIDATION_FAILED")
        formatted["message"] = source.message
        formatted["extensions"] = extensions
    else:
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
        if debug:
            formatted["extensions"]["exception"] = type(original).__name__
        else:
            formatted["message"] = "Internal server error"
    if not debug:
        formatted["message"] = _SUGGESTION.sub("", formatted["message"])
    return formatted


class _ErrorLog(logging.LoggerAdapter[logging.Logger]):
    """Ariadne logs every error at ERROR with a stack; only unexpected ones deserve it."""

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        error = msg if isinstance(msg, GraphQLError) else None
        original = unwrap_graphql_error(error) if error is not None else None
        if error is not None and (
            isinstance(original, DomainError | ValidationError)
            or original is None
            or isinstance(original, GraphQLError)
        ):
            self.logger.debug("graphql request error: %s", error.message)
            return
        self.logger.error(msg, *args, **kwargs)


_Completer = Callable[[Any], Any]


class _NotDirectError(Exception):
    """A value the direct path does not handle: graphql-core completes it instead."""


def _leaf_completer(leaf: GraphQLLeafType) -> _Completer:
    serialize = leaf.serialize

    def complete(value: Any) -> Any:
        # the default resolver calls callables and the general path raises exceptions
        if callable(value) or isinstance(value, Exception):
            raise _NotDirectError
        try:
            serialized = serialize(value)
        except Exception as exc:  # graphql-core's path reports it
            raise _NotDirectError from exc
        if serialized is None:
            raise _NotDirectError
        return serialized

    return complete


def _list_completer(item: _Completer) -> _Completer:
    def complete(value: Any) -> Any:
        if type(value) is not list:
            raise _NotDirectError
        return [item(v) for v in value]

    return complete


def _object_completer(
    type_name: str, fields: list[tuple[str, str, _Completer | None]]
) -> _Completer:
    def complete(value: Any) -> Any:
        if type(value) is not dict:
            raise _NotDirectError
        return {
            key: type_name if field is None else field(value.get(name))
            for key, name, field in fields
        }

    return complete


def _nullable(inner: _Completer, non_null: bool) -> _Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _NotDirectError
            return None
        return inner(value)

    return complete


# Completers per operation, shared by every execution of a cached document and dropped
# with it; bounded because each combination of Boolean variables gets its own entries.
_COMPLETERS: weakref.WeakKeyDictionary[
    OperationDefinitionNode, dict[Any, tuple[list[FieldNode], _Completer | None]]
] = weakref.WeakKeyDictionary()
_MAX_COMPLETERS_PER_OPERATION = 512


def _named_type(node: TypeNode) -> str:
    while not isinstance(node, NamedTypeNode):
        node = cast("NonNullTypeNode | ListTypeNode", node).type
    return node.name.value


class DirectExecutionContext(ExecutionContext):
    """graphql-core completes every field of every object the general way: a resolve info,
    the resolver, an awaitable check and a completion call per field and per list item. For
    responses holding hundreds of small objects (facet values, price buckets, entity
    references) that is most of a request's CPU.

    A field whose whole selection is resolver-free (objects read from ``dict``s by the
    default resolver, lists, scalars and enums without arguments) is completed here by a
    plain function built once per selection: the same keys and the same ``serialize`` calls.
    Anything else (custom resolvers, middleware, abstract types, ``is_type_of``, or a value
    that needs an error, is callable or is not a dict/list) takes graphql-core's path, so
    results and errors stay the spec's; the direct path has no side effects to repeat.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct = not self.middleware_manager and self.field_resolver is default_field_resolver
        self._completers = _COMPLETERS.setdefault(self.operation, {})
        # Which fields are collected depends on the Boolean variables (@skip/@include)
        self._flags = tuple(
            self.variable_values.get(definition.variable.name.value)
            for definition in self.operation.variable_definitions
            if _named_type(definition.type) == "Boolean"
        )

    def _completer(
        self, return_type: GraphQLOutputType, field_nodes: list[FieldNode]
    ) -> _Completer | None:
        inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        completer: _Completer | None
        if is_leaf_type(inner):
            completer = _leaf_completer(cast("GraphQLLeafType", inner))
        elif is_list_type(inner):
            item = self._completer(cast("GraphQLList[Any]", inner).of_type, field_nodes)
            completer = _list_completer(item) if item else None
        elif is_object_type(inner) and not cast("GraphQLObjectType", inner).is_type_of:
            completer = self._object(cast("GraphQLObjectType", inner), field_nodes)
        else:
            completer = None
        return _nullable(completer, is_non_null_type(return_type)) if completer else None

    def _object(
        self, object_type: GraphQLObjectType, field_nodes: list[FieldNode]
    ) -> _Completer | None:
        fields: list[tuple[str, str, _Completer | None]] = []
        for key, nodes in self.collect_subfields(object_type, field_nodes).items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append((key, name, None))
                continue
            field = object_type.fields.get(name)
            if field is None or field.resolve or field.args:
                return None
            completer = self._completer(field.type, nodes)
            if completer is None:
                return None
            fields.append((key, name, completer))
        return _object_completer(object_type.name, fields)

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> AwaitableOrValue[Any]:
        if self._direct and type(result) in (dict, list):
            key = (self._flags, return_type, *map(id, field_nodes))
            cached = self._completers.get(key)
            if cached is None:
                # the entry holds the nodes, so their ids stay theirs while it lives
                cached = (field_nodes, self._completer(return_type, field_nodes))
                if len(self._completers) < _MAX_COMPLETERS_PER_OPERATION:
                    self._completers[key] = cached
            completer = cached[1]
            if completer is not None:
                try:
                    return completer(result)
                except _NotDirectError:
                    pass
        return super().complete_value(return_type, field_nodes, info, path, result)


def _request_error(status: int, code: str, message: str) -> Response:
    return OrjsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


class OrjsonGraphQLHandler(GraphQLHTTPHandler):
    """Ariadne's HTTP handler: JSON bodies only, a body size limit, orjson in and out, and
    the text rules on every variable before anything runs."""

    def __init__(self, *, max_body_bytes: int = MAX_BODY_BYTES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_body_bytes = max_body_bytes

    async def handle_request_override(self, request: Request) -> Response | None:
        if request.method != "POST":
            return None
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in JSON_MEDIA_TYPES:
            return _request_error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Send GraphQL operations as JSON (Content-Type: application/json)",
            )
        return None

    async def graphql_http_server(self, request: Request) -> Response:
        try:
            data = await self.extract_data_from_json_request(request)
        except _InvalidUnicodeError:
            return _request_error(
                400,
                "INVALID_UNICODE",
                "The request body is not valid Unicode (e.g. a lone surrogate such as \\ud800)",
            )
        except HttpBadRequestError as exc:
            return _request_error(400, "BAD_REQUEST", exc.message or "Bad request")
        variables = data.get("variables") if isinstance(data, dict) else None
        if hit := find_forbidden(variables, []):
            refused = invalid_characters(*hit)
            error = GraphQLError(refused.message, original_error=refused)
            return await self.create_json_response(
                request, {"errors": [format_error(error)]}, False
            )
        success, result = await self.execute_graphql_query(request, data)
        return await self.create_json_response(request, result, success)

    async def extract_data_from_json_request(self, request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise HttpBadRequestError("Request body is too large")
        body = await request.body()
        if len(body) > self.max_body_bytes:
            raise HttpBadRequestError("Request body is too large")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if "surrogate" in str(exc):
                raise _InvalidUnicodeError from exc
            raise HttpBadRequestError("Request body is not a valid JSON") from exc

    async def create_json_response(
        self, request: Request, result: dict[str, Any], success: bool
    ) -> Response:
        # executed operations answer 200 even when a non-null root field failed (data: null)
        # so gateways keep the errors' codes; requests that never ran (parse/validation) 400
        status = 200 if success or "data" in result else 400
        return OrjsonResponse(result, status_code=status)


class _Event(GraphQLServerSentEvent):
    """A server-sent event: ``next`` with a response (errors in the kit's format), or
    ``complete``. Lines end in LF: Ariadne's CRLF events are never split by clients that
    look for a blank line as ``\\n\\n`` (GraphQL Tools' executor, so Hive Gateway)."""

    def __init__(self, payload: dict[str, Any] | None = None) -> None:
        super().__init__("next" if payload is not None else "complete")
        self.payload = payload

    def __str__(self) -> str:
        data = "" if self.payload is None else orjson.dumps(self.payload).decode()
        return f"event: {self.event}\ndata: {data}\n\n"


class SubscriptionGraphQLHandler(OrjsonGraphQLHandler, GraphQLHTTPSSEHandler):
    """:class:`OrjsonGraphQLHandler` plus subscriptions over server-sent events (GraphQL over
    SSE, "distinct connections" mode: one operation per HTTP response). A request asking for
    ``Accept: text/event-stream`` — a JSON POST, or a GET with the operation in the query
    string, which is how Hive Gateway forwards a subscription to a subgraph — streams a
    ``next`` event per result, then ``complete``. Errors carry the kit's
    ``extensions: {code, kind, field}``, also when the subscription is refused before its
    stream starts."""

    async def handle_request_override(self, request: Request) -> Response | None:
        accept = {
            part.split(";")[0].strip() for part in request.headers.get("accept", "").split(",")
        }
        if "text/event-stream" not in accept:
            return await super().handle_request_override(request)
        if request.method == "POST":
            refused = await super().handle_request_override(request)
            if refused is not None:
                return refused
        elif request.method != "GET":
            return None
        return await self.handle_sse_request(request)

    async def extract_data_from_request(self, request: Request) -> Any:
        if request.method == "GET":
            if not request.query_params.get("query"):
                raise HttpBadRequestError("A GET request names its operation in ?query=")
            return self.extract_data_from_get_request(request)
        return await self.extract_data_from_json_request(request)

    async def sse_subscribe_to_graphql(
        self, query_document: DocumentNode, data: Any, context_value: Any
    ) -> Any:
        if self.schema is None:  # the ASGI app hands its schema over before serving
            raise RuntimeError("the subscription handler has no schema")
        _, results = await subscribe(
            self.schema,
            data,
            context_value=context_value,
            root_value=self.root_value,
            query_document=query_document,
            query_validator=self.query_validator,
            validation_rules=self.validation_rules,
            debug=self.debug,
            introspection=self.introspection,
            logger=self.logger,
            error_formatter=self.error_formatter,
        )
        if isinstance(results, list):  # refused before the stream started: the errors
            yield _Event({"errors": results})
        else:
            async for result in results:
                payload: dict[str, Any] = {"data": result.data}
                if result.errors:
                    payload["errors"] = [self.error_formatter(e, self.debug) for e in result.errors]
                yield _Event(payload)
        yield _Event()


class _InvalidUnicodeError(Exception):
    """The body holds a lone surrogate: not Unicode, so not JSON (RFC 8259 section 8.2)."""


class CachedGraphQL(GraphQL):
    """Ariadne's ASGI app, with the document cache it parses and validates through."""

    document_cache: DocumentCache


def graphql_app(
    schema: GraphQLSchema,
    *,
    context_value: Callable[[Request, Any], Any] | None = None,
    production: bool = False,
    max_depth: int = 12,
    max_query_chars: int = 20_000,
    document_cache_size: int = 1024,
    validation_rules: Sequence[type[ASTValidationRule]] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    subscriptions: bool = False,
    sse_ping_s: int = 15,
) -> CachedGraphQL:
    """Ariadne ASGI app with the document cache, limits and error formatting.

    Production: no introspection, no explorer, error internals hidden. ``context_value``
    is Ariadne's ``(request, data) -> context`` (may be async). ``subscriptions``: serve
    the schema's subscriptions over server-sent events (:class:`SubscriptionGraphQLHandler`)
    with a keep-alive comment every ``sse_ping_s``.
    """
    handler = (
        SubscriptionGraphQLHandler(max_body_bytes=max_body_bytes, ping_interval=sse_ping_s)
        if subscriptions
        else OrjsonGraphQLHandler(max_body_bytes=max_body_bytes)
    )
    cache = DocumentCache(max_size=document_cache_size, max_chars=max_query_chars)
    app = CachedGraphQL(
        schema,
        context_value=context_value,
        query_parser=cache.parse,
        query_validator=cache.validate,
        validation_rules=[depth_limit_rule(max_depth), TextRule, *validation_rules],
        debug=not production,
        introspection=not production,
        explorer=ExplorerHttp405() if production else ExplorerGraphiQL(),
        logger=_ErrorLog(logging.getLogger("emporium_kit.graphql.errors"), {}),
        error_formatter=format_error,
        http_handler=handler,
        execution_context_class=DirectExecutionContext,
    )
    app.document_cache = cache
    return app
