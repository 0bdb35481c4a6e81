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
    {%- set cache = this_run_cache() -%}
    {%- if key not in cache -%}
        {%- do cache.update({key: compute(argument)}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{%- endmacro %}

{#- The cache itself: a dict in dbt's graph for this invocation. -#}
{% macro this_run_cache() -%}
    {%- set caches = graph.setdefault('chat_telemetry', {}) -%}
    {{ return(caches.setdefault(invocation_id, {})) }}
{%- endmacro %}

{#-
    What a hook found, for a later hook in the same invocation: a pre-hook for the post-hook
    of the same model, int_users_seen_daily's post-hook for the per-user models' hooks and
    the on-run-end hook (recalled_from_this_run gives none when the first hook did not run).
-#}
{% macro remember_for_this_run(key, value) -%}
    {%- do this_run_cache().update({key: value}) -%}
{%- endmacro %}

{% macro recalled_from_this_run(key) -%}
    {{ return(this_run_cache().get(key)) }}
{%- endmacro %}
