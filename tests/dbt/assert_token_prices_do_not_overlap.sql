-- Two price rows of one model and service tier must never be in force on the same day: a
-- request would be priced twice. Returns the overlapping pairs.
with

prices as (
    select * from {{ ref('token_prices') }}
),

overlapping_pairs as (
    select
        earlier.model,
        earlier.service_tier,
        earlier.valid_from as earlier_valid_from,
        later.valid_from as later_valid_from
    from prices as earlier
    inner join prices as later
        on
            earlier.model = later.model
            and earlier.service_tier = later.service_tier
            and earlier.valid_from < later.valid_from
            and (earlier.valid_to is null or earlier.valid_to > later.valid_from)
)

select * from overlapping_pairs
