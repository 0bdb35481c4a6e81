-- Report 5: the most frequent SQL patterns (fingerprints) with an example and their cost in
-- execution time and errors.
with

sql_fingerprints as (
    select * from {{ ref('fct_sql_fingerprints') }}
)

select
    sql_fingerprint,
    occurrences,
    errors,
    avg_sql_execution_ms,
    avg_result_row_count,
    last_seen_at,
    example_sql
from sql_fingerprints
order by occurrences desc
limit 20
