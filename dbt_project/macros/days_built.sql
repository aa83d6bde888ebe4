{#- The delivery days a run builds (vars `day_from`, `day_to`, set by Dagster from the partition
    or partition range), widened by one day before: files delivered on a day carry late events of
    the previous one. Unset: every day. Returns a condition on `column`, or true. -#}
{% macro days_built(column='event_date') -%}
    {%- if var('day_from', '') -%}
        {{ column }} between cast('{{ var("day_from") }}' as date) - 1
            and cast('{{ var("day_to", var("day_from")) }}' as date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
