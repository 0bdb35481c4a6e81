-- One row per user account in Supabase Auth: only the id, which is what erasure keys on.
with

source as (
    select * from {{ source('auth', 'users') }}
),

renamed as (
    select id as user_id
    from source
)

select * from renamed
