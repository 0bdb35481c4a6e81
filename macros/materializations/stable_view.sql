{#-
    stable_view: a view that a run replaces only when its definition changed. dbt's own view
    materialisation drops and re-creates every view on every run: five statements on Postgres
    (create, two renames, commit, drop), and on Spark a create that analyses the whole query
    (0.1 to 0.4 s). The views whose compiled SQL is the same from run to run (staging, the
    priced token sums, the matched prices and alert metrics on Postgres, the time spine) are
    a fixed cost of every scheduled run that buys nothing (the alert metrics' window moves
    with as_of_date, a date literal: replaced once a day). A view whose SQL carries the run's
    start (int_requests_dated's future cutoff, the alert rules' run date) would change its
    fingerprint on every run: those stay plain views.

    A view built here keeps a fingerprint of its definition (stable_view_fingerprint); a run
    that finds the view with the same fingerprint runs the model's hooks and its grants and
    leaves the view as it is. Everything else goes through the adapter's own view
    materialisation, then records the new fingerprint: no view yet, a table in its place, a
    --full-refresh, a changed fingerprint, or documentation persisted as the view's comment
    (persist_docs: the comment is then the description, so the view is always replaced).

    A view reads its parents when it is queried, so their data never makes it stale; what can
    is their shape: on Postgres a view keeps the columns its `*` had when it was created. So the
    fingerprint also covers the code and configuration of every model upstream, and dbt's own
    drop ... cascade of a replaced parent drops this view with it (the relation cache then
    knows it is gone and it is created again). It does not cover the macros upstream models
    call, which dbt's graph does not carry: a stable view names the columns it returns (no
    `*` of a parent passed through), so a parent's new column cannot go missing from it.
-#}
{%- materialization stable_view, default -%}
    {%- set fingerprint = stable_view_fingerprint() -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if existing_relation is not none
        and existing_relation.is_view
        and not should_full_refresh()
        and not config.persist_relation_docs()
        and stored_view_fingerprint(existing_relation) == fingerprint -%}
        {{ return(keep_unchanged_view(existing_relation)) }}
    {%- endif -%}
    {%- set result = create_view_materialization() -%}
    {%- if not config.persist_relation_docs() -%}
        {%- do store_view_fingerprint(this.incorporate(type='view'), fingerprint) -%}
    {%- endif -%}
    {{ return(result) }}
{%- endmaterialization -%}

{#-
    The fingerprint of the current view model: an md5 of its compiled SQL, its configuration,
    the code and configuration of every model and seed upstream of it, and the engine settings
    a view keeps from the session that created it (stable_view_engine_settings).
-#}
{% macro stable_view_fingerprint() -%}
    {%- set parts = [this | string, sql, tojson(model.config), stable_view_engine_settings()] -%}
    {#- Upstream nodes, each queued once: at most one pass per node of the graph. -#}
    {%- set queued = model.depends_on.nodes | unique | select('in', graph.nodes) | list -%}
    {%- set pending = queued | list -%}
    {%- for _ in range(graph.nodes | length) if pending -%}
        {%- set node = graph.nodes[pending.pop()] -%}
        {%- do parts.append(node.unique_id ~ '\n' ~ node.raw_code ~ '\n' ~ tojson(node.config)) -%}
        {%- for parent in node.depends_on.nodes if parent in graph.nodes and parent not in queued -%}
            {%- do queued.append(parent) -%}
            {%- do pending.append(parent) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(local_md5(parts | sort | join('\n'))) }}
{%- endmacro %}

{#-
    The settings that change a view's numbers and that the view keeps from the session that
    created it, as text (dispatched). Postgres: none (a view runs under the reading session's
    settings, and the marts' SQL names its time zones). Spark: a view stores the session's SQL
    settings when it is created and applies them whenever it is read, so a view kept from a
    session with another time zone, decimal precision or ANSI mode would keep computing with
    them; their values, asked once per run, are part of the fingerprint.
-#}
{% macro stable_view_engine_settings() -%}
    {{ return(adapter.dispatch('stable_view_engine_settings', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__stable_view_engine_settings() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__stable_view_engine_settings() -%}
    {{ return(cached_for_this_run('stable_view_engine_settings', spark_view_settings, none)) }}
{%- endmacro %}

{#- Spark: the current values of the settings that change a view's numbers (for the cache). -#}
{% macro spark_view_settings(unused) -%}
    {%- set values = [] -%}
    {%- for key in [
        'spark.sql.session.timeZone',
        'spark.sql.decimalOperations.allowPrecisionLoss',
        'spark.sql.ansi.enabled',
    ] -%}
        {%- set row = run_query('set ' ~ key).rows[0] -%}
        {%- do values.append(row[0] ~ '=' ~ row[1]) -%}
    {%- endfor -%}
    {{ return(values | join(';')) }}
{%- endmacro %}

{#-
    The fingerprint recorded with an existing view (none when it has none), dispatched: on
    another adapter none, so a view is always created again.
-#}
{% macro stored_view_fingerprint(relation) -%}
    {{ return(adapter.dispatch('stored_view_fingerprint', 'chat_telemetry')(relation)) }}
{%- endmacro %}

{% macro default__stored_view_fingerprint(relation) -%}
    {{ return(none) }}
{%- endmacro %}

{#- Postgres: the view's comment, read in the transaction the node commits. -#}
{% macro postgres__stored_view_fingerprint(relation) -%}
    {#- auto_begin: the run of an unchanged view commits what its hooks did in this transaction -#}
    {%- call statement('stored_view_fingerprint', fetch_result=true, auto_begin=true) -%}
        select obj_description('{{ relation }}'::regclass, 'pg_class')
    {%- endcall -%}
    {%- set comment = load_result('stored_view_fingerprint').table.columns[0].values()[0] -%}
    {%- set prefix = 'chat_telemetry stable_view ' -%}
    {%- if comment is string and comment.startswith(prefix) -%}
        {{ return(comment[prefix | length:]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#-
    Spark: the view's table property chat_telemetry_stable_view, read from the relation cache
    (dbt-spark keeps each relation's `show table extended` output: no query).
-#}
{% macro spark__stored_view_fingerprint(relation) -%}
    {%- set found = modules.re.search(
        'chat_telemetry_stable_view=([0-9a-f]{32})', relation.information or ''
    ) -%}
    {{ return(found.group(1) if found else none) }}
{%- endmacro %}

{#- Record a view's fingerprint (dispatched; nothing on another adapter). -#}
{% macro store_view_fingerprint(relation, fingerprint) -%}
    {{ return(adapter.dispatch('store_view_fingerprint', 'chat_telemetry')(relation, fingerprint)) }}
{%- endmacro %}

{% macro default__store_view_fingerprint(relation, fingerprint) -%}
{%- endmacro %}

{#- Postgres: as the view's comment, committed. -#}
{% macro postgres__store_view_fingerprint(relation, fingerprint) -%}
    {%- call statement('store_view_fingerprint') -%}
        comment on view {{ relation }} is 'chat_telemetry stable_view {{ fingerprint }}'
    {%- endcall -%}
    {%- do adapter.commit() -%}
{%- endmacro %}

{% macro spark__store_view_fingerprint(relation, fingerprint) -%}
    {%- call statement('store_view_fingerprint') -%}
        alter view {{ relation }} set tblproperties ('chat_telemetry_stable_view' = '{{ fingerprint }}')
    {%- endcall -%}
{%- endmacro %}

{#-
    The adapter's own view materialisation (dispatched): dbt's default on Postgres, dbt-spark's
    create or replace view on Spark.
-#}
{% macro create_view_materialization() -%}
    {{ return(adapter.dispatch('create_view_materialization', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__create_view_materialization() -%}
    {{ return(materialization_view_default()) }}
{%- endmacro %}

{% macro spark__create_view_materialization() -%}
    {{ return(materialization_view_spark()) }}
{%- endmacro %}

{#-
    The run of an unchanged view: the model's hooks and grants as the adapter's view
    materialisation runs them, and no statement on the view itself (dispatched).
-#}
{% macro keep_unchanged_view(existing_relation) -%}
    {{ return(adapter.dispatch('keep_unchanged_view', 'chat_telemetry')(existing_relation)) }}
{%- endmacro %}

{#- dbt's default view materialisation's order: hooks outside, then inside the transaction. -#}
{% macro default__keep_unchanged_view(existing_relation) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- do report_unchanged_view(existing_relation) -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [existing_relation]}) }}
{%- endmacro %}

{#-
    Spark: dbt-spark's view materialisation runs the hooks inside its (no-op) transaction only,
    and has no commit; the same here.
-#}
{% macro spark__keep_unchanged_view(existing_relation) -%}
    {{ run_hooks(pre_hooks) }}
    {%- do report_unchanged_view(existing_relation) -%}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [existing_relation]}) }}
{%- endmacro %}

{#-
    What both runs of an unchanged view share, between its hooks: the `main` result dbt
    reports (code UNCHANGED, no statement run) and the model's grants config, applied as the
    view materialisations apply it.
-#}
{% macro report_unchanged_view(existing_relation) -%}
    {%- call noop_statement('main', 'UNCHANGED', 'UNCHANGED') -%}
        -- {{ existing_relation }} is unchanged (chat_telemetry stable_view): kept as it is
    {%- endcall -%}
    {%- set grant_config = config.get('grants') -%}
    {%- if grant_config -%}
        {%- do apply_grants(existing_relation, grant_config, should_revoke=true) -%}
    {%- endif -%}
{%- endmacro %}
