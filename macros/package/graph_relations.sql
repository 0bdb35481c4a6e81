{#- The relation of one of this package's models, from the graph (on-run-end has no ref()). -#}
{% macro package_model_relation(name) -%}
    {%- set node = graph.nodes.get('model.chat_telemetry.' ~ name) -%}
    {{ return(api.Relation.create(
        database=node.database, schema=node.schema, identifier=node.alias
    )) }}
{%- endmacro %}
