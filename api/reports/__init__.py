"""Report packs: the dashboards as CSV files and one XLSX workbook, from the same service functions as the API."""
