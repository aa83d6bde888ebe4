-- The government units whose systems feed the centre.
select code as unit_code, name_zh as unit_name, kind as unit_kind, department as department_code
from {{ source('reference', 'units') }}
