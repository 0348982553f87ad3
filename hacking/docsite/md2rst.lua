-- Pandoc Lua filter: one Markdown guide of docs/ -> an RST page of the collection's docsite (docs/docsite/rst/).
-- Used by hacking/docsite/generate.py, which sets:
--   MAILFLOW_GUIDE    the guide's name (file name without .md), e.g. onboarding
--   MAILFLOW_GUIDES   every guide's name, space separated (links to them become :ref:s)
--   MAILFLOW_BLOB     URL prefix of the repository's files, e.g. https://github.com/o/r/blob/main/
-- What it does:
--   * drops the <!-- doc-test: ... --> markers (HTML comments) that tests/integration/test_docs.py reads;
--   * gives every heading a label under ansible_collections.m365.mailflow.docsite.<guide> (antsibull-docs requires
--     that prefix), the first heading the page's own label;
--   * turns links to other guides (and to their headings) into :ref:s, links to other files of the repository into
--     links to the repository, and in-page links into :ref:s;
--   * turns the n-th ```mermaid block of a guide into the image <guide>-mermaid-<n>.svg, which the docs build renders
--     from that block with the Mermaid CLI (hacking/docsite/diagrams.py render, called by build.sh).
local PREFIX = "ansible_collections.m365.mailflow.docsite."
local guide = os.getenv("MAILFLOW_GUIDE")
local blob = os.getenv("MAILFLOW_BLOB")
local guides = {}
for name in string.gmatch(os.getenv("MAILFLOW_GUIDES") or "", "%S+") do
  guides[name] = true
end

local function label(name, anchor)
  if anchor == nil or anchor == "" then
    return PREFIX .. name
  end
  return PREFIX .. name .. "." .. anchor
end

local function is_comment(text)
  return string.match(text, "^%s*<!%-%-.*%-%->%s*$") ~= nil
end

function RawBlock(el)
  if el.format == "html" and is_comment(el.text) then
    return {}
  end
end

function RawInline(el)
  if el.format == "html" and is_comment(el.text) then
    return {}
  end
end

local first_heading = true
function Header(el)
  if first_heading then
    el.identifier = label(guide)
    first_heading = false
  else
    el.identifier = label(guide, el.identifier)
  end
  return el
end

-- A link whose text is only the file name ("awx.md") shows the target's title instead.
local function ref(inlines, target, path)
  local text = pandoc.utils.stringify(inlines)
  if text == path or text == "" then
    return pandoc.RawInline("rst", ":ref:`" .. target .. "`")
  end
  text = text:gsub("([<>`\\])", "\\%1")
  return pandoc.RawInline("rst", ":ref:`" .. text .. " <" .. target .. ">`")
end

-- "a/b/../c" -> "a/c"
local function normalize(path)
  local parts = {}
  for part in string.gmatch(path, "[^/]+") do
    if part == ".." then
      table.remove(parts)
    elseif part ~= "." then
      table.insert(parts, part)
    end
  end
  return table.concat(parts, "/")
end

function Link(el)
  local target = el.target
  if string.match(target, "^%a[%w+.-]*:") then
    return el -- http:, https:, mailto: ...
  end
  local path, anchor = string.match(target, "^([^#]*)#?(.*)$")
  if path == "" then
    return ref(el.content, label(guide, anchor), target)
  end
  local name = string.match(path, "^([%w_-]+)%.md$")
  if name and guides[name] then
    return ref(el.content, label(name, anchor), path)
  end
  -- another file of the repository: the guides live in docs/
  el.target = blob .. normalize("docs/" .. path) .. (anchor ~= "" and ("#" .. anchor) or "")
  return el
end

-- A fence without a language is output or plain text: not highlighted (the docsite's default language is YAML).
-- A mermaid fence is a diagram: its image, rendered at build time (pandoc visits the blocks in document order).
local diagrams = 0
function CodeBlock(el)
  if el.classes[1] == "mermaid" then
    diagrams = diagrams + 1
    local alt = string.format("Diagram %d of this page (Mermaid; its text is in docs/%s.md)", diagrams, guide)
    local image = pandoc.Image({pandoc.Str(alt)}, string.format("%s-mermaid-%d.svg", guide, diagrams))
    return pandoc.Figure({pandoc.Plain({image})}, {})
  end
  if #el.classes == 0 then
    el.classes = {"text"}
  end
  return el
end
