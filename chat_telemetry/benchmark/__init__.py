"""`make bench`: the writer, dbt builds as history grows, and the reports on marts versus raw."""
