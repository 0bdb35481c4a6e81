-- The consumer's own model that happens to share a name with one of the package's staging
-- models: the package's refs must keep reading its own (require_ref_searches_node_package_
-- before_root in dbt_project.yml).
select 'not a user id' as id
