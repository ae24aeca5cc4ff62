"""ID-format schemas: a YAML language of typed-segment templates, compiled into a fast matcher.

`load_schema("netra")` gives the default schema of the migrating platform; `load_schema("standard")`
the standard formats (UUID, ULID, TypeID, KSUID, Snowflake); any other argument is a path.
See docs/schema.md for the language and the most-specific-wins rule.
"""

from id_monitor.schema.loader import BUILTIN_SCHEMAS, load_schema
from id_monitor.schema.model import Format, Schema, SchemaError, Variant

__all__ = ["BUILTIN_SCHEMAS", "Format", "Schema", "SchemaError", "Variant", "load_schema"]
