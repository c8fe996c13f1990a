"""The handbook's FAQ (四、其他事项) as data, and its search (SPEC ACC-6).

Questions and answers are copied verbatim from the handbook (accounts/help_files/), without the
slide decorations (the "●" before some questions, the list dashes); tests/accounts/test_help.py
checks every line against the handbook. Where the portal does better than the handbook says
(a [departure] in SPEC.md) or works differently, the entry carries a `portal_note` that the page
shows under the handbook's answer, and `spec` names the rule.
"""
import unicodedata
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# An answer is a sequence of blocks: a paragraph (str) or a bulleted list (tuple of str).
Block = str | tuple[str, ...]


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: tuple[Block, ...]
    portal_note: str = ""
    spec: str = ""


FAQ: tuple[FaqEntry, ...] = (
    FaqEntry(
        "点击登录为何没有任何反应？",
        (
            "1. 必须用Google Chrome 浏览器，输入网址 https://zzgl.shzgh.org，进入首页点击登录。",
            "2. 可到总工会网站首页->下载中心->上海职工互助保障项目2020参保手册，内有详解。",
        ),
        portal_note="本平台支持当前版本的 Chrome、Edge、Firefox 和 Safari 浏览器，无需设置极速模式；"
        "参保手册也可在本平台【下载中心】直接下载。",
        spec="X-5, ACC-6",
    ),
    FaqEntry(
        "账号密码忘记？",
        (
            "1. 有工会的单位：请联系上级工会重置密码；",
            "2. 无工会的单位：到上海工会网上工作平台下载【申工通账号找回或密码重置申请表】，将电子版的申请表发送到邮箱 "
            "shzgh@gobestsoft.com进行账号找回或密码重置，收到邮件后1-3个工作日进行处理，重置后密码为abc123456",
        ),
        portal_note="本平台已改进：重置后不再使用统一密码 abc123456，而是生成一次性临时密码并发送至经办人邮箱；"
        "用临时密码登录后须立即设置新密码，该账号原有的登录全部失效。"
        "已确认邮箱的经办人也可在登录页点击【忘记密码？】，通过邮件中的链接自行重置。"
        "申请表可在本平台【下载中心】下载。",
        spec="ACC-3 [departure]",
    ),
    FaqEntry(
        "经办人填报怎么填写？",
        (
            "登录后点击【互助保障管理】->【经办人填报】，填写基本信息，点击【获取验证码】，填写验证码后，点击【保存】；"
            "该步骤完成后才可以进行后续操作（已完善经办人邮箱和电话的单位可跳过该步骤）",
        ),
    ),
    FaqEntry(
        "单位参保编码忘记？",
        (
            "1. 可查看单位上一年互助保障计划保障单“参保编码”一栏；",
            "2. 可拨打12351热线查询。",
        ),
    ),
    FaqEntry(
        "新单位无参保编码如何操作？",
        ("单位登录参保系统后进行在线申请，详见本手册第12-16页。",),
    ),
    FaqEntry(
        "单位已更名，系统内如何变更单位名称？",
        (
            "携带加盖公章的单位名称变更相关证明材料的复印件（如：企业名称变更核准通知书、准予变更登记通知书，"
            "或机关事业单位名称更改批复等材料），前往本会五楼营业大厅“信息修改”窗口办理。",
        ),
    ),
    FaqEntry(
        "单位地址、经办人姓名、电话、单位邮箱等一般信息变更，如何操作？",
        (
            "上海工会网上工作平台点击【下载中心】，找到并下载【在职职工互助保障参保单位邮件重发或信息变更申请单】，"
            "根据需要，填写相关内容后打印并加盖参保单位公章，通过传真或电子邮件方式发送，详见本手册18-19页",
        ),
        portal_note="传真号码 63619921，电子邮箱 kefubu@shzbh.org.cn。本平台也可在线填写同一申请单（表头已预填），"
        "上传加盖公章的扫描件，由职保会审核。",
        spec="HND-2 [departure]",
    ),
    FaqEntry(
        "导入时，提示清册导入失败/校验后显示乱码，怎么办？",
        (
            "点击【导入参保人员】，先重新【下载导入模板】，按要求填写数据（*为必填项），保存文件，点击【选择导入文件】。"
            "注意单个模板导入上限5000人，超出请分多个文件逐个上传，在制作导入模板时，请保持模板表格格式不变，否则会上传失败。",
        ),
        portal_note="本平台已改进：单个文件不再限 5000 人，一个文件可导入 10 万人以上，也可分多个文件导入。",
        spec="ROS-9 [departure]",
    ),
    FaqEntry(
        "建议名单导入后，不出现名单，反而弹框提示“是否要移除全部名单”？",
        ("建议名单导入后，不出现名单，是因为导入后没有刷新清册列表，请点击【搜索】刷新列表数据。",),
    ),
    FaqEntry(
        "导入自己做的名单后，职退状态不显示，怎么办？",
        (
            "导入自己做的名单后，职退状态不显示，有2种处理方式",
            (
                "① 导入模板最后一栏：是否有社保，选择【是】即可；",
                "② 在人员列表操作栏点击【设置在职】即可；",
            ),
        ),
    ),
    FaqEntry(
        "超龄人员可否办理互助保障？",
        (
            "如有在职超龄人员，可直接移除或勾选【医保享受在职待遇】",
            (
                "直接移除可点击右侧【移除】，也可返回进行批量移除",
                "保留在职超龄人员参保，在【医保享受在职待遇】下的方框打钩（不移除的人员必须全部勾选），点击【清册提交】，"
                "弹框信息为本单位承诺相关内容，点击【确认提交】后即可",
            ),
        ),
    ),
    FaqEntry(
        "有职工职退情况是“-”怎么办？",
        (
            "“-”代表该人员在历史清册中状态不明，如单位确认其身份为在职有社保人员，可以参加保障项目A0，"
            "在参保清册列表“操作”列点击【设置在职】，点击【确定】，该人员的职退状态将变成“在职”，可参加保障项目A0；"
            "可点击【职退情况】进行筛选搜索",
        ),
    ),
    FaqEntry(
        "清册校验后，无社保编码的人员怎么办？",
        (
            "这些人员在参保清册【职退情况】一栏都是“-”状态，【是否有社保】一栏都是否，如果这批人员需要参加A0保障，"
            "在【操作】列点击“设置在职”由经办人确认当前职工为在职且正常缴纳社保，即为有社保人员。",
        ),
    ),
    FaqEntry(
        "清册待校验状态，能做些什么？",
        ("可点击【参保清册】查看并修改参保信息；如点击【批次删除】，可将该批次及该批次下参保人员信息全部删除。",),
    ),
    FaqEntry(
        "点击清册校验后清册校验不通过，我该做什么？清册校验通过，我该做些什么？",
        (
            (
                "不通过：需修改参保清册，若有在职超龄人员请设置“医保享受在职待遇”或全部移除，再点击清册提交。",
                "通过：点击【清册提交】，弹出承诺书进行确认，完成后可进行保障项目选择。",
            ),
        ),
    ),
    FaqEntry("参保人员证件类型可否变更？", ("证件类型不可变更。",)),
    FaqEntry("如何删除参保人员？", ("进入参保清册列表页，点击【移除】，可删除该人员",)),
    FaqEntry(
        "参保编码输入错误怎么办？",
        (
            "一个参保编码只能在一个平台账号中使用，如果用错参保编码，在参保批次管理页："
            "当状态为“清册待校验”或“清册校验不通过”状态下点击【批次删除】即可。",
        ),
    ),
    FaqEntry(
        "专用收据可以开多张吗？可以开不同的抬头吗？",
        ("专用收据可以新增多条，每张收据的金额以及抬头根据需求自行填写，所有收据总金额等于批次总金额即可。",),
    ),
    FaqEntry(
        "如何撤销参保？如何撤销保障项目选择？",
        (
            (
                "1.撤销参保，在整个批次状态为“清册待校验”或“清册校验不通过”时，可以进行【批次删除】",
                "2.在【缴费凭证待上传】状态下，点击【批次撤回】重新选择保障项目即可。",
            ),
        ),
    ),
    FaqEntry(
        "上级单位（集团）是否能为下属基层单位办理参保？",
        ("可以，一个参保编码中可以由多个单位组成一套名单，合并办理参保。",),
    ),
    FaqEntry(
        "集中参保办理完毕后，发现少选一个保障项目，怎么办？是否可在即时参保通道中再为全部员工办理其他保障项目。",
        ("不可以。即时参保保障项目和集中参保项目必须保持一致。",),
    ),
    FaqEntry(
        "集中参保流程走完后，发现有职工因职退情况或社保选项问题，漏选保障项目，是否还能撤销集中参保，重新办理集中参保手续？",
        (
            "在集中参保办理期限内，缴费凭证未上传之前，都可以进行批次撤回，进行重新整理清册或重新选择保障项目。",
            "集中参保流程走完后，不可重新办理集中参保手续。",
        ),
    ),
    FaqEntry(
        "申工通平台集中参保流程走完后，发现有一位或多位在职职工漏参保，怎么办？",
        ("可在集中参保结束后，为遗漏的职工办理即时参保。",),
    ),
    FaqEntry(
        "一个职工在集中参保后，调到新单位，新单位是否还能为其办理即时参保？",
        ("一个身份证号在一个参保年度只能参保一次，哪怕新单位选择保障项目与老单位不同，同一保障年度内也不可再参保。",),
    ),
    FaqEntry(
        "操作中碰到身份信息被占用，怎么办？",
        (
            "系统提示被XXX单位占用，说明已有单位为该人参加了互助保障项目2020，根据互助保障项目2020不能重复参保规定，"
            "此人不能再跟随现单位参加互助保障项目2020。经办人可根据系统显示的对方单位经办人联系方式与该单位取得联系，"
            "为次年的参保做准备。",
        ),
    ),
)

# A query longer than this is cut: no question is that long, and the page must stay cheap.
MAX_QUERY_LENGTH = 50


@dataclass(frozen=True)
class ShownBlock:
    """A block of an answer as the page shows it: a paragraph, or the items of a bulleted list."""

    paragraph: SafeString | None = None
    items: tuple[SafeString, ...] = ()


@dataclass(frozen=True)
class FaqResult:
    """One entry as the page shows it: its number in the handbook's order (the anchor #q3) and its
    text escaped, with the search terms in <mark>."""

    number: int
    question: SafeString
    answer: tuple[ShownBlock, ...]
    portal_note: SafeString


def fold(text: str) -> str:
    """Case- and width-insensitive form: full-width ＡＢＣ１２３ and （） match ABC123 and ()."""
    return unicodedata.normalize("NFKC", text).casefold()


def search_terms(query: str) -> list[str]:
    """The folded, distinct words of a query (white space of either width separates them)."""
    terms = []
    for term in fold(query[:MAX_QUERY_LENGTH]).split():
        if term not in terms:
            terms.append(term)
    return terms


def highlight(text: str, terms: list[str]) -> SafeString:
    """`text` escaped, with every (folded) occurrence of a term wrapped in <mark>."""
    # Fold character by character so each folded character knows the original one it came from
    # (NFKC may turn one character into several: ① → 1).
    folded, origin = [], []
    for index, character in enumerate(text):
        for folded_character in fold(character):
            folded.append(folded_character)
            origin.append(index)
    folded_text = "".join(folded)
    spans = []
    for term in terms:
        start = folded_text.find(term)
        while start != -1:
            end = start + len(term)
            spans.append((origin[start], origin[end - 1] + 1))
            start = folded_text.find(term, start + 1)
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, position = [], 0
    for start, end in merged:
        pieces.append(escape(text[position:start]))
        pieces.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    pieces.append(escape(text[position:]))
    return mark_safe("".join(pieces))


def _texts(entry: FaqEntry) -> list[str]:
    texts = [entry.question, entry.portal_note]
    for block in entry.answer:
        texts.extend(block if isinstance(block, tuple) else [block])
    return texts


def faq_search(query: str) -> list[FaqResult]:
    """The entries whose question, answer or portal note contain every word of `query` (all of them
    for an empty query), in the handbook's order, highlighted."""
    terms = search_terms(query)
    results = []
    for number, entry in enumerate(FAQ, start=1):
        haystack = "\n".join(fold(text) for text in _texts(entry))
        if not all(term in haystack for term in terms):
            continue
        answer = tuple(
            ShownBlock(items=tuple(highlight(item, terms) for item in block))
            if isinstance(block, tuple)
            else ShownBlock(paragraph=highlight(block, terms))
            for block in entry.answer
        )
        results.append(
            FaqResult(
                number=number,
                question=highlight(entry.question, terms),
                answer=answer,
                portal_note=highlight(entry.portal_note, terms),
            )
        )
    return results
