{#-
    When a user is deleted, the raw table's foreign key deletes their telemetry, but rows of
    incremental marts older than the lookback would keep their user_id until a full refresh.
    This post-hook removes, from a mart with a user_id column, every user who no longer has a
    row in raw telemetry (an index probe per distinct user, not a scan of history).
-#}
{% macro forget_deleted_users() -%}
    {{ return(adapter.dispatch('forget_deleted_users', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__forget_deleted_users() -%}
    delete from {{ this }}
    where user_id in (
        select known_users.user_id
        from (select distinct user_id from {{ this }}) as known_users
        where not exists (
            select 1
            from {{ ref('stg_chat_telemetry__requests') }} as requests
            where requests.user_id = known_users.user_id
        )
    )
{%- endmacro %}
