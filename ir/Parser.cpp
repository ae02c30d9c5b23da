//===- ir/Parser.cpp - Reads the textual IR -------------------------------===//
//
// A hand-written lexer and a recursive-descent parser that never recurses on
// the input's nesting (the grammar has none), so deep or hostile input cannot
// exhaust the stack. The parser stops at the first error.
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"

#include "llvm/ADT/StringMap.h"

#include <charconv>
#include <cmath>

namespace sqc {

namespace {

//===----------------------------------------------------------------------===//
// Lexer
//===----------------------------------------------------------------------===//

enum class Tok {
  Eof,
  Error,
  Ident,     // graph, linear, f32, dense, true, ...
  PercentId, // %x, %0 (text without '%')
  AtId,      // @main (text without '@')
  QuestionId, // ?seq (text without '?')
  Int,
  Float,
  String, // text is the unescaped value
  LParen, RParen, LBrace, RBrace, LSquare, RSquare, Less, Greater,
  Comma, Colon, Equal, Arrow,
};

struct Token {
  Tok kind = Tok::Eof;
  std::string text;
  int64_t intValue = 0;
  double floatValue = 0;
  unsigned line = 1, col = 1;
};

const char *tokName(Tok t) {
  switch (t) {
  case Tok::Eof: return "end of file";
  case Tok::Error: return "invalid token";
  case Tok::Ident: return "identifier";
  case Tok::PercentId: return "value name";
  case Tok::AtId: return "graph name";
  case Tok::QuestionId: return "symbolic dimension";
  case Tok::Int: return "integer";
  case Tok::Float: return "number";
  case Tok::String: return "string";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::LBrace: return "'{'";
  case Tok::RBrace: return "'}'";
  case Tok::LSquare: return "'['";
  case Tok::RSquare: return "']'";
  case Tok::Less: return "'<'";
  case Tok::Greater: return "'>'";
  case Tok::Comma: return "','";
  case Tok::Colon: return "':'";
  case Tok::Equal: return "'='";
  case Tok::Arrow: return "'->'";
  }
  return "token";
}

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isIdentChar(char c) {
  return isIdentStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '$' ||
         c == '-';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
public:
  explicit Lexer(llvm::StringRef text) : cur_(text.begin()), end_(text.end()) {}

  /// Lexes the next token; on a lexical error returns Tok::Error with the
  /// message in `text`.
  Token next() {
    skipSpaceAndComments();
    Token t;
    t.line = line_;
    t.col = col_;
    if (cur_ == end_) {
      t.kind = Tok::Eof;
      return t;
    }
    char c = *cur_;
    auto punct = [&](Tok k, int len = 1) {
      advance(len);
      t.kind = k;
      return t;
    };
    switch (c) {
    case '(': return punct(Tok::LParen);
    case ')': return punct(Tok::RParen);
    case '{': return punct(Tok::LBrace);
    case '}': return punct(Tok::RBrace);
    case '[': return punct(Tok::LSquare);
    case ']': return punct(Tok::RSquare);
    case '<': return punct(Tok::Less);
    case '>': return punct(Tok::Greater);
    case ',': return punct(Tok::Comma);
    case ':': return punct(Tok::Colon);
    case '=': return punct(Tok::Equal);
    case '"': return lexString(t);
    case '%': case '@': case '?': {
      advance(1);
      bool numeric = c == '%' && cur_ != end_ && isDigit(*cur_);
      if (cur_ == end_ || !(isIdentStart(*cur_) || numeric))
        return error(t, std::string("expected a name after '") + c + "'");
      const char *start = cur_;
      while (cur_ != end_ && (numeric ? isDigit(*cur_) : isIdentChar(*cur_)))
        advance(1);
      t.text.assign(start, cur_);
      t.kind = c == '%' ? Tok::PercentId : c == '@' ? Tok::AtId : Tok::QuestionId;
      return t;
    }
    case '-':
      if (cur_ + 1 != end_ && cur_[1] == '>')
        return punct(Tok::Arrow, 2);
      if (llvm::StringRef(cur_, end_ - cur_).starts_with("-inf") &&
          !(cur_ + 4 != end_ && isIdentChar(cur_[4]))) {
        advance(4);
        t.kind = Tok::Float;
        t.floatValue = -INFINITY;
        return t;
      }
      if (cur_ + 1 != end_ && isDigit(cur_[1]))
        return lexNumber(t);
      return error(t, "expected a digit or '>' after '-'");
    default:
      break;
    }
    if (isDigit(c))
      return lexNumber(t);
    if (isIdentStart(c)) {
      const char *start = cur_;
      while (cur_ != end_ && isIdentChar(*cur_))
        advance(1);
      t.text.assign(start, cur_);
      t.kind = Tok::Ident;
      return t;
    }
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
      static const char *hex = "0123456789abcdef";
      return error(t, std::string("unexpected byte 0x") +
                          hex[(unsigned char)c >> 4] + hex[c & 15]);
    }
    return error(t, std::string("unexpected character '") + c + "'");
  }

private:
  void advance(int n) {
    for (int i = 0; i < n && cur_ != end_; ++i, ++cur_) {
      if (*cur_ == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
    }
  }

  void skipSpaceAndComments() {
    while (cur_ != end_) {
      char c = *cur_;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance(1);
      } else if (c == '/' && cur_ + 1 != end_ && cur_[1] == '/') {
        while (cur_ != end_ && *cur_ != '\n')
          advance(1);
      } else {
        return;
      }
    }
  }

  Token error(Token t, std::string msg) {
    t.kind = Tok::Error;
    t.text = std::move(msg);
    return t;
  }

  Token lexNumber(Token t) {
    const char *start = cur_;
    if (*cur_ == '-')
      advance(1);
    bool isFloat = false;
    while (cur_ != end_ && isDigit(*cur_))
      advance(1);
    if (cur_ != end_ && *cur_ == '.') {
      isFloat = true;
      advance(1);
      while (cur_ != end_ && isDigit(*cur_))
        advance(1);
    }
    if (cur_ != end_ && (*cur_ == 'e' || *cur_ == 'E')) {
      isFloat = true;
      advance(1);
      if (cur_ != end_ && (*cur_ == '+' || *cur_ == '-'))
        advance(1);
      if (cur_ == end_ || !isDigit(*cur_))
        return error(t, "expected digits in the exponent");
      while (cur_ != end_ && isDigit(*cur_))
        advance(1);
    }
    if (cur_ != end_ && isIdentStart(*cur_))
      return error(t, "unexpected letter after a number");
    t.text.assign(start, cur_);
    if (isFloat) {
      auto r = std::from_chars(start, cur_, t.floatValue);
      if (r.ec != std::errc() || std::isinf(t.floatValue))
        return error(t, "number '" + t.text + "' is out of range");
      t.kind = Tok::Float;
    } else {
      auto r = std::from_chars(start, cur_, t.intValue);
      if (r.ec != std::errc())
        return error(t, "integer '" + t.text + "' is out of range");
      t.kind = Tok::Int;
    }
    return t;
  }

  Token lexString(Token t) {
    advance(1); // opening quote
    std::string value;
    while (true) {
      if (cur_ == end_ || *cur_ == '\n')
        return error(t, "unterminated string");
      char c = *cur_;
      if (c == '"') {
        advance(1);
        break;
      }
      if (c != '\\') {
        value += c;
        advance(1);
        continue;
      }
      advance(1);
      if (cur_ == end_)
        return error(t, "unterminated string");
      char e = *cur_;
      auto hexVal = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      if (e == 'n') { value += '\n'; advance(1); }
      else if (e == 't') { value += '\t'; advance(1); }
      else if (e == '"' || e == '\\') { value += e; advance(1); }
      else if (cur_ + 1 != end_ && hexVal(e) >= 0 && hexVal(cur_[1]) >= 0) {
        value += char(hexVal(e) * 16 + hexVal(cur_[1]));
        advance(2);
      } else {
        return error(t, "unknown escape in string");
      }
    }
    t.kind = Tok::String;
    t.text = std::move(value);
    return t;
  }

  const char *cur_, *end_;
  unsigned line_ = 1, col_ = 1;
};

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

class Parser {
public:
  Parser(llvm::StringRef text, llvm::StringRef file, DiagnosticEngine &diag)
      : lex_(text), file_(file), diag_(diag) {
    tok_ = lex_.next();
  }

  std::unique_ptr<Module> parseModule();

private:
  // Token handling ---------------------------------------------------------
  Location loc(const Token &t) const { return Location{file_, t.line, t.col}; }
  Location here() const { return loc(tok_); }

  void consume() { tok_ = lex_.next(); }

  /// Reports an error at the current token (or the lexer's message).
  bool error(const llvm::Twine &msg) { return errorAt(tok_, msg); }
  bool errorAt(const Token &t, const llvm::Twine &msg) {
    if (failed_)
      return false;
    failed_ = true;
    diag_.error(loc(t), t.kind == Tok::Error ? llvm::Twine(t.text) : msg);
    return false;
  }
  bool expected(llvm::StringRef what) {
    return error("expected " + what + ", got " + describe(tok_));
  }
  static std::string describe(const Token &t) {
    switch (t.kind) {
    case Tok::Ident: return "'" + t.text + "'";
    case Tok::PercentId: return "'%" + t.text + "'";
    case Tok::AtId: return "'@" + t.text + "'";
    case Tok::Int: case Tok::Float: return "'" + t.text + "'";
    default: return tokName(t.kind);
    }
  }

  bool expect(Tok k, llvm::StringRef what = "") {
    if (tok_.kind != k)
      return expected(what.empty() ? llvm::StringRef(tokName(k)) : what);
    consume();
    return true;
  }
  bool consumeIf(Tok k) {
    if (tok_.kind != k)
      return false;
    consume();
    return true;
  }
  bool isKeyword(llvm::StringRef kw) const {
    return tok_.kind == Tok::Ident && tok_.text == kw;
  }

  // Grammar ----------------------------------------------------------------
  bool parseGraph(Module &m);
  bool parseOp(Graph &g);
  bool parseType(TensorType &t);
  bool parseTypeList(std::vector<TensorType> &types);
  bool parseAttrDict(std::vector<NamedAttr> &attrs, const OpInfo *info);
  bool parseAttrValue(Attribute &a);
  bool parseNumber(double &v, bool &isInt);
  bool defineValue(const Token &nameTok, Value *v);

  Lexer lex_;
  Token tok_;
  llvm::StringRef file_;
  DiagnosticEngine &diag_;
  bool failed_ = false;
  /// Values of the graph being parsed, by their text name.
  llvm::StringMap<Value *> values_;
};

std::unique_ptr<Module> Parser::parseModule() {
  auto m = std::make_unique<Module>();
  if (isKeyword("module")) {
    consume();
    if (!isKeyword("attributes"))
      return expected("'attributes'"), nullptr;
    consume();
    if (!parseAttrDict(m->attrs(), nullptr))
      return nullptr;
  }
  while (tok_.kind != Tok::Eof) {
    if (!isKeyword("graph"))
      return expected("'graph'"), nullptr;
    if (!parseGraph(*m))
      return nullptr;
  }
  return failed_ ? nullptr : std::move(m);
}

bool Parser::defineValue(const Token &nameTok, Value *v) {
  auto [it, inserted] = values_.try_emplace(nameTok.text, v);
  if (!inserted)
    return errorAt(nameTok, "redefinition of value '%" + nameTok.text + "'");
  // Numbers are positional: the printer renumbers unnamed values.
  if (!isDigit(nameTok.text[0]))
    v->setName(nameTok.text);
  return true;
}

bool Parser::parseGraph(Module &m) {
  Token graphTok = tok_;
  consume(); // 'graph'
  if (tok_.kind != Tok::AtId)
    return expected("a graph name like '@main'");
  Token nameTok = tok_;
  consume();
  if (m.lookupGraph(nameTok.text))
    return errorAt(nameTok, "redefinition of graph '@" + nameTok.text + "'");
  Graph *g = m.addGraph(std::make_unique<Graph>(nameTok.text, loc(graphTok)));
  values_.clear();

  if (!expect(Tok::LParen))
    return false;
  if (tok_.kind != Tok::RParen) {
    do {
      if (tok_.kind != Tok::PercentId)
        return expected("an argument name like '%x'");
      Token argTok = tok_;
      consume();
      TensorType t;
      if (!expect(Tok::Colon) || !parseType(t))
        return false;
      if (!defineValue(argTok, g->addArgument(t)))
        return false;
    } while (consumeIf(Tok::Comma));
  }
  if (!expect(Tok::RParen) || !expect(Tok::Arrow) || !expect(Tok::LParen))
    return false;
  std::vector<TensorType> results;
  if (tok_.kind != Tok::RParen && !parseTypeList(results))
    return false;
  g->setResultTypes(std::move(results));
  if (!expect(Tok::RParen) || !expect(Tok::LBrace))
    return false;
  while (tok_.kind != Tok::RBrace) {
    if (tok_.kind == Tok::Eof)
      return error("expected '}' to close graph '@" + nameTok.text + "'");
    if (!parseOp(*g))
      return false;
  }
  consume(); // '}'
  return true;
}

bool Parser::parseOp(Graph &g) {
  std::vector<Token> resultToks;
  if (tok_.kind == Tok::PercentId) {
    do {
      if (tok_.kind != Tok::PercentId)
        return expected("a result name");
      resultToks.push_back(tok_);
      consume();
    } while (consumeIf(Tok::Comma));
    if (!expect(Tok::Equal))
      return false;
  }
  if (tok_.kind != Tok::Ident)
    return expected("an op name");
  Token opTok = tok_;
  const OpInfo *info = lookupOp(tok_.text);
  if (!info)
    return error("unknown op '" + tok_.text + "'");
  consume();
  if (resultToks.size() != info->numResults)
    return errorAt(opTok, "'" + info->mnemonic + "' has " +
                              llvm::Twine(info->numResults) + " result" +
                              (info->numResults == 1 ? "" : "s") + ", but " +
                              llvm::Twine(resultToks.size()) + " " +
                              (resultToks.size() == 1 ? "is" : "are") + " named");

  // A lexical error here must be reported as such, not as a missing operand.
  if (tok_.kind == Tok::Error)
    return error("");
  std::vector<Value *> operands;
  if (tok_.kind == Tok::PercentId) {
    do {
      if (tok_.kind != Tok::PercentId)
        return expected("an operand name");
      auto it = values_.find(tok_.text);
      if (it == values_.end())
        return error("use of undefined value '%" + tok_.text + "'");
      operands.push_back(it->second);
      consume();
    } while (consumeIf(Tok::Comma));
  }
  if (tok_.kind == Tok::Error)
    return error("");
  std::vector<NamedAttr> attrs;
  if (tok_.kind == Tok::LBrace && !parseAttrDict(attrs, info))
    return false;
  std::vector<TensorType> types;
  if (consumeIf(Tok::Colon)) {
    Token typesTok = tok_;
    if (!parseTypeList(types))
      return false;
    if (types.size() != info->numResults)
      return errorAt(typesTok, "'" + info->mnemonic + "' has " +
                                   llvm::Twine(info->numResults) +
                                   " result type(s), got " +
                                   llvm::Twine(types.size()));
  }

  std::unique_ptr<Op> op =
      Op::create(info->kind, operands, types, std::move(attrs), loc(opTok));
  if (types.empty() && info->numResults > 0) {
    // No written types: the op's rule must be able to infer them.
    llvm::SmallVector<TensorType, 2> inferred;
    if (llvm::Error e = inferResultTypes(*op, {}, inferred)) {
      std::string msg = llvm::toString(std::move(e));
      return errorAt(opTok, "'" + info->mnemonic + "' op " + msg);
    }
    op = Op::create(info->kind, operands, inferred, op->attrs(), loc(opTok));
  }
  for (unsigned i = 0; i < resultToks.size(); ++i)
    if (!defineValue(resultToks[i], op->result(i)))
      return false;
  g.append(std::move(op));
  return true;
}

bool Parser::parseType(TensorType &t) {
  if (tok_.kind != Tok::Ident)
    return expected("a type like 'f32[?seq,768]'");
  std::optional<DType> dt = parseDType(tok_.text);
  if (!dt)
    return error("unknown element type '" + tok_.text + "'");
  consume();
  if (!expect(Tok::LSquare, "'[' after the element type"))
    return false;
  llvm::SmallVector<Dim, 4> dims;
  if (tok_.kind != Tok::RSquare) {
    do {
      if (dims.size() == kMaxRank)
        return error("rank exceeds the maximum of " + llvm::Twine(kMaxRank));
      if (tok_.kind == Tok::Int) {
        if (tok_.intValue < 0 || tok_.intValue > kMaxDimSize)
          return error("dimension " + tok_.text + " is out of range [0, 2^40]");
        dims.push_back(Dim(tok_.intValue));
      } else if (tok_.kind == Tok::QuestionId) {
        dims.push_back(Dim::symbol(tok_.text));
      } else {
        return expected("a dimension (a size or '?name')");
      }
      consume();
    } while (consumeIf(Tok::Comma));
  }
  if (!expect(Tok::RSquare))
    return false;
  t = TensorType(*dt, dims);
  return true;
}

bool Parser::parseTypeList(std::vector<TensorType> &types) {
  do {
    TensorType t;
    if (!parseType(t))
      return false;
    types.push_back(std::move(t));
  } while (consumeIf(Tok::Comma));
  return true;
}

bool Parser::parseNumber(double &v, bool &isInt) {
  if (tok_.kind == Tok::Int) {
    v = double(tok_.intValue);
    isInt = true;
  } else if (tok_.kind == Tok::Float) {
    v = tok_.floatValue;
    isInt = false;
  } else if (tok_.kind == Tok::Ident && (tok_.text == "nan" || tok_.text == "inf")) {
    v = tok_.text == "nan" ? NAN : INFINITY;
    isInt = false;
  } else {
    return expected("a number");
  }
  consume();
  return true;
}

bool Parser::parseAttrValue(Attribute &a) {
  switch (tok_.kind) {
  case Tok::Int:
    a = Attribute(tok_.intValue);
    consume();
    return true;
  case Tok::Float:
    a = Attribute(tok_.floatValue);
    consume();
    return true;
  case Tok::String:
    a = Attribute(tok_.text);
    consume();
    return true;
  case Tok::LSquare: {
    consume();
    std::vector<int64_t> ints;
    std::vector<double> floats;
    bool allInt = true;
    if (tok_.kind != Tok::RSquare) {
      do {
        bool isInt;
        double v;
        int64_t iv = tok_.intValue;
        if (!parseNumber(v, isInt))
          return false;
        allInt &= isInt;
        ints.push_back(iv);
        floats.push_back(v);
      } while (consumeIf(Tok::Comma));
    }
    if (!expect(Tok::RSquare))
      return false;
    a = allInt ? Attribute(std::move(ints)) : Attribute(std::move(floats));
    return true;
  }
  case Tok::Ident:
    if (tok_.text == "true" || tok_.text == "false") {
      a = Attribute(tok_.text == "true");
      consume();
      return true;
    }
    if (tok_.text == "nan" || tok_.text == "inf") {
      a = Attribute(tok_.text == "nan" ? double(NAN) : double(INFINITY));
      consume();
      return true;
    }
    if (tok_.text == "dense") {
      consume();
      if (!expect(Tok::Less, "'<' after 'dense'"))
        return false;
      DenseElements d;
      bool isInt;
      double v;
      if (consumeIf(Tok::LSquare)) {
        if (tok_.kind != Tok::RSquare) {
          do {
            if (!parseNumber(v, isInt))
              return false;
            d.values.push_back(v);
          } while (consumeIf(Tok::Comma));
        }
        if (!expect(Tok::RSquare))
          return false;
      } else {
        if (!parseNumber(v, isInt))
          return false;
        d.values.push_back(v);
        d.splat = true;
      }
      if (!expect(Tok::Greater, "'>' to close 'dense<'"))
        return false;
      a = Attribute(std::move(d));
      return true;
    }
    return error("unknown attribute value '" + tok_.text + "'");
  default:
    return expected("an attribute value");
  }
}

bool Parser::parseAttrDict(std::vector<NamedAttr> &attrs, const OpInfo *info) {
  if (!expect(Tok::LBrace))
    return false;
  if (tok_.kind != Tok::RBrace) {
    do {
      if (tok_.kind != Tok::Ident)
        return expected("an attribute name");
      Token nameTok = tok_;
      consume();
      const AttrSpec *spec = info ? info->findAttr(nameTok.text) : nullptr;
      if (info && !spec)
        return errorAt(nameTok, "'" + info->mnemonic + "' has no attribute '" +
                                    nameTok.text + "'");
      for (const NamedAttr &a : attrs)
        if (a.name == nameTok.text)
          return errorAt(nameTok, "attribute '" + nameTok.text +
                                      "' is given twice");
      if (!expect(Tok::Equal))
        return false;
      Attribute value;
      if (!parseAttrValue(value))
        return false;
      // Integers are written where floats are meant (`eps = 1`); the table
      // says which one the op wants.
      if (spec && spec->kind == AttrKind::Float && value.kind() == AttrKind::Int)
        value = Attribute(double(value.getInt()));
      if (spec && spec->kind == AttrKind::FloatArray &&
          value.kind() == AttrKind::IntArray)
        value = Attribute(std::vector<double>(value.getIntArray().begin(),
                                              value.getIntArray().end()));
      attrs.push_back(NamedAttr{nameTok.text, std::move(value)});
    } while (consumeIf(Tok::Comma));
  }
  return expect(Tok::RBrace, "',' or '}' in attributes");
}

} // namespace

std::unique_ptr<Module> parseModule(std::unique_ptr<llvm::MemoryBuffer> buffer,
                                    DiagnosticEngine &diag) {
  llvm::StringRef text = buffer->getBuffer();
  llvm::StringRef name = diag.addSource(std::move(buffer));
  Parser p(text, name, diag);
  return p.parseModule();
}

std::unique_ptr<Module> parseModule(llvm::StringRef text, DiagnosticEngine &diag,
                                    llvm::StringRef name) {
  return parseModule(llvm::MemoryBuffer::getMemBufferCopy(text, name), diag);
}

std::unique_ptr<Module> parseFile(llvm::StringRef path, DiagnosticEngine &diag) {
  auto buf = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (!buf) {
    diag.error(Location::unknown(),
               "cannot read '" + path + "': " + buf.getError().message());
    return nullptr;
  }
  return parseModule(std::move(*buf), diag);
}

} // namespace sqc
