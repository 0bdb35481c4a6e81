{#-
    What a model's compile step queried, kept for its hooks in the same dbt invocation. A
    model, its pre-hook and its incremental strategy all need the days the run rebuilds;
    on Spark every query costs a fixed few hundred milliseconds, so each is asked once.
    The cache lives in dbt's graph, the one object every node of an invocation shares (as
    elementary's package keeps its cache), keyed by invocation_id, so that a second
    invocation in the same process never sees the first one's answers. Only for answers
    that stay true until the model's table is written: the table it is computed from is
    not changed before then.
-#}
{% macro cached_for_this_run(key, compute, argument) -%}
    {%- set caches = graph.setdefault('chat_telemetry', {}) -%}
    {%- set cache = caches.setdefault(invocation_id, {}) -%}
    {%- if key not in cache -%}
        {%- do cache.update({key: compute(argument)}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{%- endmacro %}
