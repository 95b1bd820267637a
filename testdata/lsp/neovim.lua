-- The end-to-end test of `tkc lsp` in a real editor (cli/tests/lsp_neovim.rs): Neovim's
-- built-in LSP client starts `$TKC lsp` on the workspace `$ROOT`, opens its broken pipeline,
-- waits for the diagnostics, goes to the definition of the `taskRef`, and writes what it saw
-- to `$OUT` as JSON. Written for Neovim 0.7 (Debian 12's): `vim.lsp.start_client`.
local tkc, root, out = os.getenv('TKC'), os.getenv('ROOT'), os.getenv('OUT')
local result = {}

local ok, err = pcall(function()
  local pipeline = root .. '/pipeline.yaml'
  vim.cmd('edit ' .. vim.fn.fnameescape(pipeline))
  local buf = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({ cmd = { tkc, 'lsp' }, root_dir = root, name = 'tkc' })
  vim.lsp.buf_attach_client(buf, client_id)
  result.received = vim.wait(20000, function()
    return #vim.diagnostic.get(buf) > 0
  end, 20)
  result.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    table.insert(result.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, code = d.code or lsp.code, message = d.message,
    })
  end
  table.sort(result.diagnostics, function(a, b) return a.lnum < b.lnum end)
  -- The cursor on `build` in `taskRef: {name: build}` (line 13), then `gd`'s LSP call.
  vim.api.nvim_win_set_cursor(0, { 13, 16 })
  vim.lsp.buf.definition()
  vim.wait(20000, function()
    return vim.api.nvim_buf_get_name(0) ~= pipeline
  end, 20)
  result.definition = {
    file = vim.api.nvim_buf_get_name(0),
    cursor = vim.api.nvim_win_get_cursor(0),
  }
  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.client_is_stopped(client_id) end, 20)
end)
if not ok then
  result.error = tostring(err)
end
local f = io.open(out, 'w')
f:write(vim.fn.json_encode(result))
f:close()
vim.cmd('qall!')
