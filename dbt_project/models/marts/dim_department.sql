-- The bodies that handle what the centre dispatches, with the level they act at.
select code as department_code, name_zh as department_name, name_en as department_name_en, level
from {{ source('reference', 'departments') }}
