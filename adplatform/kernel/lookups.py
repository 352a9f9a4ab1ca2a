"""`field__any=values`: membership in a list of values sent as ONE array parameter on
PostgreSQL (`field = ANY(%s)`), for the consumers' lookups of thousands of ids.

`field__in` gives each value a placeholder of its own: Django prepares and checks every one
and psycopg splits and quotes a statement of thousands of parameters, ~5 % of the batched
consumer's CPU (bench pipeline's probe). Elsewhere (SQLite) it is `IN (…)` as usual."""

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, Lookup


@Field.register_lookup
class AnyOf(Lookup):
    lookup_name = "any"
    # The values are prepared in as_sql, each by the field: not the list as one value.
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=False) for value in self.rhs]
        if not values:
            raise EmptyResultSet
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]
