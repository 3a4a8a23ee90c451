"""Rules on credentials written into the code (secret-named literals, token-shaped literals,
Authorization headers or basic-auth pairs built from literals) or into log lines and error messages."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from headwater.lint.context import ModuleContext, ProjectContext, target_key
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.rules.config_files import read_configuration
from headwater.lint.rules.logging import stdlib_logger_call
from headwater.lint.rules.state import CONFIGURATION_NAMES
from headwater.lint.rules.structure import find_update_function
from headwater.lint.sensitive import describe_token, is_placeholder, is_secret_name, is_secret_value, name_words

__all__ = ["literal_text"]

_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_SCHEME = re.compile(r"^\s*(?:bearer|basic|token|bot|digest|apikey|api-key|oauth|sso-key)\s+", re.IGNORECASE)
_BASIC_AUTH = frozenset({"requests.auth.HTTPBasicAuth", "requests.auth.HTTPDigestAuth", "requests.HTTPBasicAuth",
                         "httpx.BasicAuth", "httpx.DigestAuth", "aiohttp.BasicAuth"})
_URL_PASSWORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/\s:@{}]+):(?P<password>[^/\s@{}]+)@")
_ID_WORDS = frozenset({"id", "ids", "uuid", "guid", "hash", "sha", "sha1", "sha256", "md5", "checksum", "digest",
                       "etag", "sku", "version", "path", "url", "uri", "name", "slug", "fingerprint"})
_CONFIG_HINT = ("read it from the configuration instead: `configuration[\"api_key\"]` (configuration.json, "
                "git-ignored)")


def _mask(value: str) -> str:
    return repr(value[:4] + "...") if len(value) > 8 else "'...'"


def _str_constant(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _target_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _str_constant(node.slice)
    return None


def _named_literals(module: ModuleContext) -> Iterator[tuple[str, ast.AST, ast.Constant]]:
    """``(name, name node, string literal)`` for every literal given a name: assignments, dict
    entries, keyword arguments and parameter defaults."""
    for assign in module.nodes(ast.Assign):
        if isinstance(assign.value, ast.Constant):
            for target in assign.targets:
                name = _target_name(target)
                if name is not None:
                    yield name, target, assign.value
    for ann in module.nodes(ast.AnnAssign):
        name = _target_name(ann.target)
        if isinstance(ann.value, ast.Constant) and name is not None:
            yield name, ann.target, ann.value
    for mapping in module.nodes(ast.Dict):
        for key, value in zip(mapping.keys, mapping.values):
            name = _str_constant(key)
            if name is not None and key is not None and isinstance(value, ast.Constant):
                yield name, key, value
    for keyword in module.nodes(ast.keyword):
        if keyword.arg is not None and isinstance(keyword.value, ast.Constant):
            yield keyword.arg, keyword, keyword.value
    for function in module.all_functions:
        arguments = function.args
        positional = arguments.posonlyargs + arguments.args
        pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
        pairs += [(arg, default) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults)
                  if default is not None]
        for arg, default in pairs:
            if isinstance(default, ast.Constant):
                yield arg.arg, arg, default


def _hardcoded_secrets(module: ModuleContext) -> Iterator[tuple[str, ast.AST, ast.Constant]]:
    for name, node, literal in _named_literals(module):
        value = literal.value
        if isinstance(value, str) and is_secret_name(name) and is_secret_value(value):
            yield name, node, literal


# ------------------------------------------------------------------------------------ HW050
@rule(
    "HW050", "hardcoded-secret", "error",
    summary="A key, token, secret or password is assigned a string literal in the code.",
    why="""Credentials in code end up in version control, in packaged connectors and in logs of
    reviews; rotating them means a code change. Connector SDK connectors read credentials from
    the configuration, which Fivetran stores encrypted.""",
    fix="Read it from the configuration: `api_key = configuration[\"api_key\"]`, with the value in configuration.json.",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op

        API_KEY = "q8Wm2ZtR5yHv1KcP9dLx3NbF"


        def update(configuration: dict, state: dict):
            response = requests.get("https://api.example.com/items", headers={"X-API-Key": API_KEY}, timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=4),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            api_key = configuration["api_key"]
            response = session.get("https://api.example.com/items", headers={"X-API-Key": api_key}, timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_hardcoded_secrets(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for name, node, literal in _hardcoded_secrets(module):
            assert isinstance(literal.value, str)
            yield module.violation(node, f"`{name}` is given the literal secret {_mask(literal.value)}", _CONFIG_HINT)


# ------------------------------------------------------------------------------------ HW051
@rule(
    "HW051", "secret-like-literal", "warning",
    summary="A string literal looks like a credential (a known token format, a URL with a password, a random key).",
    why="""Recognisable token formats (GitHub, Slack, Stripe, AWS, Google, JWTs, private keys), URLs
    with a password in them and long random-looking strings are almost always credentials, whatever
    the variable is called. They belong in the configuration, not in the code. A private key counts
    only with its key material: a bare `-----BEGIN PRIVATE KEY-----` marker (checked for, or added
    around a configured key) is not one.""",
    fix="Move the value to configuration.json and read it with `configuration[\"...\"]`.",
    bad=Example('''
        import psycopg2
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            connection = psycopg2.connect("postgresql://loader:Zt8pQ2wX@db.internal:5432/shop")
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, name FROM customers")
                for row_id, name in cursor:
                    op.upsert(table="customers", data={"id": row_id, "name": name})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=6),
    good=Example('''
        import psycopg2
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            connection = psycopg2.connect(
                host=configuration["host"], dbname=configuration["database"],
                user=configuration["user"], password=configuration["password"],
            )
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, name FROM customers")
                for row_id, name in cursor:
                    op.upsert(table="customers", data={"id": row_id, "name": name})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_secret_like_literals(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for literal in module.nodes(ast.Constant):
            value = literal.value
            if not isinstance(value, str) or len(value) < 20:
                continue
            description = describe_token(value)
            if description is None:
                continue
            parent = module.parents.get(literal)
            if isinstance(parent, (ast.Expr, ast.JoinedStr)):
                continue  # docstrings; f-string pieces are judged with the whole header by HW052
            if isinstance(parent, ast.Dict) and any(key is literal for key in parent.keys):
                continue
            context = _context_name(parent, literal)
            if context is not None:
                if is_secret_name(context) or _AUTH_HEADERS & {context.lower()}:
                    continue  # HW050 / HW052 report these
                if description == "a random-looking key or token" and _ID_WORDS & set(name_words(context)):
                    continue
            shown = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", value) if "URL" in description else value
            shown = repr(shown if len(shown) <= 50 else shown[:47] + "...") if "URL" in description else _mask(value)
            yield module.violation(literal, f"the literal {shown} looks like {description}",
                                   "move it to configuration.json and read it with `configuration[\"...\"]`")


def _context_name(parent: ast.AST | None, literal: ast.AST) -> str | None:
    if isinstance(parent, (ast.Assign, ast.AnnAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        names = [_target_name(target) for target in targets]
        return next((name for name in names if name), None)
    if isinstance(parent, ast.keyword):
        return parent.arg
    if isinstance(parent, ast.Dict):
        for key, value in zip(parent.keys, parent.values):
            if value is literal:
                return _str_constant(key)
    return None


# ------------------------------------------------------------------------------------ HW052
def literal_text(module: ModuleContext, expr: ast.AST, depth: int = 0) -> tuple[str, bool] | None:
    """The text an expression builds from literals only (module constants followed), and whether it
    went through a constant that HW050/HW051 already report; ``None`` if any part is not literal."""
    if depth > 6:
        return None
    if isinstance(expr, ast.Constant):
        if isinstance(expr.value, str):
            return expr.value, False
        if isinstance(expr.value, bytes):
            return expr.value.decode("latin-1"), False
        return None
    if isinstance(expr, ast.Name):
        value = module.constants.get(expr.id)
        if value is None:
            return None
        found = literal_text(module, value, depth + 1)
        if found is None:
            return None
        text, reported = found
        reported = reported or (is_secret_name(expr.id) and is_secret_value(text)) or describe_token(text) is not None
        return text, reported
    if isinstance(expr, ast.JoinedStr):
        parts = [literal_text(module, value.value if isinstance(value, ast.FormattedValue) else value, depth + 1)
                 for value in expr.values]
        if any(part is None for part in parts):
            return None
        return "".join(part[0] for part in parts if part), any(part[1] for part in parts if part)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)):
        left, right = literal_text(module, expr.left, depth + 1), literal_text(module, expr.right, depth + 1)
        if left is None or right is None:
            return None
        return left[0] + right[0], left[1] or right[1]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr in ("encode", "decode", "format", "strip") or module.qualname(expr.func) in (
                "base64.b64encode", "base64.standard_b64encode", "base64.urlsafe_b64encode"):
            pieces = [literal_text(module, arg, depth + 1) for arg in expr.args]
            receiver = (literal_text(module, expr.func.value, depth + 1)
                        if expr.func.attr in ("encode", "decode", "format", "strip") else ("", False))
            if receiver is None or any(piece is None for piece in pieces) or expr.keywords:
                return None
            texts = [receiver[0], *(piece[0] for piece in pieces if piece)]
            return "".join(texts), receiver[1] or any(piece[1] for piece in pieces if piece)
    return None


def _credential_part(text: str) -> str | None:
    """The secret part of an Authorization value (after ``Bearer`` ...), if it is a real one."""
    secret = _SCHEME.sub("", text).strip()
    if len(secret) < 6 or not is_secret_value(secret):
        return None
    return secret


@rule(
    "HW052", "literal-authorization", "error",
    summary="An Authorization header or basic-auth pair is built from literals.",
    why="""A header such as `"Authorization": "Bearer eyJ..."` or `auth=("admin", "s3cret")` puts
    the credential in the code, where it is committed, shared and hard to rotate.""",
    fix='Build it from the configuration: `{"Authorization": f"Bearer {configuration[\'api_token\']}"}`.',
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op

        HEADERS = {"Authorization": "Bearer 7fQk2LmZ9xWv4RtN8pYb3HcD"}


        def update(configuration: dict, state: dict):
            response = requests.get("https://api.example.com/items", headers=HEADERS, timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=4),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            headers = {"Authorization": f"Bearer {configuration['api_token']}"}
            response = session.get("https://api.example.com/items", headers=headers, timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_literal_authorization(project: ProjectContext) -> Iterator[Violation]:
    hint = ("build it from the configuration: "
            "`{\"Authorization\": f\"Bearer {configuration['api_token']}\"}`")
    for module in project.modules:
        for mapping in module.nodes(ast.Dict):
            for key, value in zip(mapping.keys, mapping.values):
                header = _str_constant(key)
                if header is not None and header.lower() in _AUTH_HEADERS and _literal_credential(module, value):
                    yield module.violation(value, f"the {header} header is built from a literal credential", hint)
        for assign in module.nodes(ast.Assign):
            for target in assign.targets:
                if isinstance(target, ast.Subscript):
                    header = _str_constant(target.slice)
                    if (header is not None and header.lower() in _AUTH_HEADERS
                            and _literal_credential(module, assign.value)):
                        yield module.violation(assign.value, f"the {header} header is built from a literal "
                                               "credential", hint)
                elif (isinstance(target, ast.Attribute) and target.attr == "auth"
                      and _literal_pair(module, assign.value)):
                    yield module.violation(assign.value, "basic-auth user and password are literals",
                                           "pass them from the configuration: "
                                           "`(configuration[\"user\"], configuration[\"password\"])`")
        for call in module.calls:
            for keyword in call.keywords:
                if keyword.arg == "auth" and _literal_pair(module, keyword.value):
                    yield module.violation(keyword.value, "basic-auth user and password are literals",
                                           "pass them from the configuration: "
                                           "`auth=(configuration[\"user\"], configuration[\"password\"])`")
            if module.qualname(call.func) in _BASIC_AUTH and len(call.args) == 2 and _literal_pair(
                    module, ast.Tuple(elts=list(call.args))):
                yield module.violation(call, f"`{module.text(call.func)}(...)` gets a literal user and password",
                                       "pass them from the configuration: "
                                       "`HTTPBasicAuth(configuration[\"user\"], configuration[\"password\"])`")


def _literal_credential(module: ModuleContext, value: ast.AST) -> bool:
    found = literal_text(module, value)
    return found is not None and not found[1] and _credential_part(found[0]) is not None


def _literal_pair(module: ModuleContext, value: ast.AST) -> bool:
    if not (isinstance(value, ast.Tuple) and len(value.elts) == 2):
        return False
    user, password = (literal_text(module, element) for element in value.elts)
    if user is None or password is None or password[1]:
        return False
    return bool(user[0]) and not is_placeholder(password[0]) and len(password[0]) >= 4 and "{" not in password[0]


# ------------------------------------------------------------------------------------ HW053
def _secret_key_name(name: str) -> bool:
    """A dict key or field that holds a credential: ``api_key``, ``Authorization``, ``X-API-Key``."""
    return is_secret_name(name) or name.lower() in _AUTH_HEADERS


class _SecretFlow:
    """What carries a secret in one module: names holding one, dicts or strings built with one."""

    def __init__(self, project: ProjectContext, module: ModuleContext) -> None:
        self.module = module
        update = find_update_function(module) if module.is_connector else None
        #: per function: the parameters that receive the configuration (by name, or update's first)
        self.configuration: dict[ast.AST, set[str]] = {}
        for function in module.all_functions:
            arguments = function.args
            names = {arg.arg for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                     if arg.arg in CONFIGURATION_NAMES}
            if function is update and arguments.args:
                names.add(arguments.args[0].arg)
            if names:
                self.configuration[function] = names
        configuration = read_configuration(project)
        values = configuration.value if configuration is not None else None
        self.configuration_has_secrets = isinstance(values, dict) and any(_secret_key_name(key) for key in values)
        #: names never given a value read under a non-secret key (``token = body["next_token"]``)
        self.not_secret: set[str] = set()
        #: name -> the secret key it holds (``headers`` -> ``Authorization``), for dicts and strings built with one
        self.holders: dict[str, str] = {}
        assignments: list[tuple[str, ast.AST]] = []
        for node in module.nodes(ast.Assign):
            for target in node.targets:
                key = _leaf_name(target)
                if key is not None:
                    assignments.append((key, node.value))
                if isinstance(target, ast.Subscript):  # headers["Authorization"] = ...
                    field = _str_constant(target.slice)
                    owner = _leaf_name(target.value)
                    if field is not None and owner is not None and _secret_key_name(field) \
                            and not _literal(node.value):
                        self.holders.setdefault(owner, field)
        for annotated in module.nodes(ast.AnnAssign):
            key = _leaf_name(annotated.target)
            if key is not None and annotated.value is not None:
                assignments.append((key, annotated.value))
        for name, value in assignments:
            source = _read_key(value)
            if source is not None and not _secret_key_name(source):
                self.not_secret.add(name)
        for call in module.calls:  # headers.update({"Authorization": ...})
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr == "update" and call.args:
                owner = _leaf_name(func.value)
                field = self._dict_secret(call.args[0])
                if owner is not None and field is not None:
                    self.holders.setdefault(owner, field)
        for _ in range(2):  # a URL built with a key, then logged; a dict of such values
            for name, value in assignments:
                if name in self.holders:
                    continue
                field = self._dict_secret(value) if isinstance(value, ast.Dict) else self._built_with(value)
                if field is not None:
                    self.holders[name] = field

    def _configuration_names(self, node: ast.AST) -> set[str]:
        """The configuration parameters of the functions around ``node`` (a name rebound inside one,
        e.g. a loop variable `config`, is not the configuration)."""
        names: set[str] = set()
        function = self.module.function_of(node)
        while function is not None:
            names |= self.configuration.get(function, set())
            function = self.module.function_of(function)
        return names

    def _dict_secret(self, value: ast.AST) -> str | None:
        if not isinstance(value, ast.Dict):
            return None
        for key, item in zip(value.keys, value.values):
            field = _str_constant(key)
            if field is not None and _secret_key_name(field) and not _literal(item):
                return field
        return None

    def _built_with(self, value: ast.AST) -> str | None:
        """The secret a string is built from: an f-string, ``+`` or ``.format()`` with one in it."""
        parts: list[ast.AST] = []
        if isinstance(value, ast.JoinedStr):
            parts = [part.value for part in value.values if isinstance(part, ast.FormattedValue)]
        elif isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Mod)):
            parts = [value.left, value.right]
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "format":
            parts = [*value.args, *(keyword.value for keyword in value.keywords)]
        for part in parts:
            found = self.secret(part, holders=False) or self._built_with(part)
            if found is not None:
                return found
        return None

    def secret(self, expr: ast.AST, *, holders: bool = True) -> str | None:
        """What secret ``expr`` shows when written into a message, or ``None``."""
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in ("str", "repr") \
                and len(expr.args) == 1:
            return self.secret(expr.args[0], holders=holders)
        configuration = self._configuration_names(expr)
        field = _read_key(expr)
        if field is not None:
            owner = _leaf_name(_read_owner(expr))
            if owner in configuration and is_secret_name(field):
                return f"configuration[{field!r}]"
            if _secret_key_name(field) and owner is not None and owner in self.holders:
                return f"{owner}[{field!r}]"
            return None
        name = _leaf_name(expr)
        if name is None:
            return None
        if isinstance(expr, ast.Name) and name in configuration:
            return "the whole configuration" if self.configuration_has_secrets else None
        if holders and name in self.holders:
            return f"`{self.module.text(expr, 30)}` (it holds {self.holders[name]!r})"
        if is_secret_name(name) and name not in self.not_secret:
            return f"`{self.module.text(expr, 30)}`"
        return None


def _leaf_name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _read_key(expr: ast.AST) -> str | None:
    """``"k"`` for ``x["k"]`` and ``x.get("k", ...)``."""
    if isinstance(expr, ast.Subscript):
        return _str_constant(expr.slice)
    if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get"
            and expr.args):
        return _str_constant(expr.args[0])
    return None


def _read_owner(expr: ast.AST) -> ast.AST | None:
    if isinstance(expr, ast.Subscript):
        return expr.value
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        return expr.func.value
    return None


def _literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant)


def _message_parts(expr: ast.AST) -> Iterator[ast.AST]:
    """The values a message shows: the pieces of f-strings, ``+``/``%`` and ``.format()``, and
    plain arguments. Not inside other calls (``len(token)``, ``mask(key)``) or slices (``key[:4]``)."""
    if isinstance(expr, ast.JoinedStr):
        for part in expr.values:
            if isinstance(part, ast.FormattedValue):
                yield from _message_parts(part.value)
    elif isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)):
        yield from _message_parts(expr.left)
        yield from _message_parts(expr.right)
    elif isinstance(expr, (ast.Tuple, ast.List)):
        for element in expr.elts:
            yield from _message_parts(element)
    elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "format":
        yield from _message_parts(expr.func.value)
        for value in [*expr.args, *(keyword.value for keyword in expr.keywords)]:
            yield from _message_parts(value)
    elif not isinstance(expr, ast.Constant):
        yield expr


def _message_sinks(module: ModuleContext) -> Iterator[tuple[ast.AST, str, list[ast.AST]]]:
    """``(node, what, arguments)`` for log calls, print() and raised exceptions."""
    loggers = _stdlib_loggers(module)
    for call in module.calls:
        method = module.log_method(call)
        if method is not None:
            yield call, f"log.{method}()", list(call.args)
        elif isinstance(call.func, ast.Name) and call.func.id == "print" and not module.in_main_guard(call):
            yield call, "print()", list(call.args)
        elif stdlib_logger_call(module, call, loggers):
            yield call, f"{module.text(call.func, 30)}()", list(call.args)
    for raised in module.nodes(ast.Raise):
        if isinstance(raised.exc, ast.Call):
            yield raised, f"the {module.text(raised.exc.func, 30)} message", list(raised.exc.args)


def _stdlib_loggers(module: ModuleContext) -> set[str]:
    kinds: dict[str, set[bool]] = {}
    for node in module.nodes(ast.Assign):
        is_logger = isinstance(node.value, ast.Call) and module.qualname(node.value.func) == "logging.getLogger"
        for target in node.targets:
            key = target_key(target)
            if key is not None:
                kinds.setdefault(key, set()).add(is_logger)
    return {key for key, found in kinds.items() if found == {True}}


@rule(
    "HW053", "secret-in-log", "error",
    summary="A log line or exception message contains a credential (a key, a token, auth headers, a URL with a key).",
    why="""Log lines and error messages are shown in the sync logs and the dashboard, kept for a long
    time and read by many people; unlike the configuration they are not treated as secret. Writing
    request headers (they carry the Authorization header), an API key, a token, a password, the whole
    configuration, or a URL or body built with a key into a message publishes the credential. Masked
    or measured values (`key[:4]`, `len(token)`) are fine.""",
    fix="Log what identifies the request without the credential: the URL path, the status code, `api_key[:4] + '...'`.",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            headers = {"Authorization": f"Bearer {configuration['api_token']}"}
            log.info(f"GET /items with headers {headers}")
            response = requests.get("https://api.example.com/items", headers=headers, timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=7),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            token = configuration["api_token"]
            headers = {"Authorization": f"Bearer {token}"}
            log.info(f"GET /items with the token {token[:4]}...")
            response = session.get("https://api.example.com/items", headers=headers, timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_secret_in_log(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        flow: _SecretFlow | None = None
        for node, what, arguments in _message_sinks(module):
            flow = flow or _SecretFlow(project, module)
            for argument in arguments:
                found = next((secret for part in _message_parts(argument)
                              for secret in [flow.secret(part)] if secret is not None), None)
                if found is not None:
                    yield module.violation(node, f"{what} writes {found} into the message, where everyone who reads "
                                           "the logs sees it", "leave the credential out, or mask it: "
                                           "`value[:4] + '...'`")
                    break
