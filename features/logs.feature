Feature: Update log
  As someone auditing the service
  I want every update recorded with the state before and after it, newest first, page by page
  So that I can tell what changed, from what, and in which order

  Background:
    Given the service is running

  Scenario: An update is logged with the state before and after it
    Given the state is counter 10 and message "one"
    When the client sets the counter to 11
    Then the log's newest entry records counter 10 and message "one" becoming counter 11 and message "one"
    And the log's newest entry is the update as answered
    And the log's newest entry's time is written in UTC as ISO 8601, to the microsecond, ending in Z
    And the log's newest entry's time is now

  Scenario: The log lists the newest update first, each from the state the one before left
    Given the client has made 3 updates
    When a client reads page 1 of the log with 3 entries per page
    Then the entries are those 3 updates, newest first
    And each entry starts from the state the one below it left
    And no entry's time is earlier than the time of the entry below it

  Scenario: Pages split the log without gaps or overlaps
    Given the client has made 5 updates
    When a client reads pages 1 to 3 of the log with 2 entries per page
    Then together the pages hold those 5 updates, newest first, each exactly once
    And every page holds at most 2 entries
    And every page counts the whole log and the pages it makes

  Scenario: The last page holds what is left, and the page after it is empty
    Given the client has made 3 updates
    When a client reads the last page of the log with 2 entries per page, and the page after it
    Then the last page holds the entries left over after the full pages
    And the page after the last is empty, with the same total

  Scenario: Without a page or a limit, the log shows the first 10 entries
    Given the client has made 11 updates
    When a client reads the log without choosing a page or a limit
    Then the answer is 200
    And the answer is JSON
    And the page is page 1 with a limit of 10
    And the page holds the newest 10 of those updates

  Scenario: A walk by cursor sees every entry once, newest first, as the numbered pages do
    Given the client has made 9 updates
    When a client walks the whole log by cursor with 4 entries per page
    Then the walk holds every entry of the log exactly once, newest first
    And the walk begins with those 9 updates, newest first
    And each page of the walk is the numbered page of the same size and place
    And only the last page of the walk has no next cursor

  Scenario: Updates made during a walk by cursor do not shift it
    Given the client has made 6 updates
    When a client reads the newest 3 entries of the log by cursor
    And the client makes 2 more updates
    And the client reads the next 3 entries by cursor
    Then together the reads hold those 6 updates, newest first, each exactly once

  Scenario: A page far past the end is empty, not an error
    When a client reads page 1000000 of the log with 100 entries per page
    Then the answer is 200
    And the page holds no entries

  Scenario Outline: Paging at its bounds is accepted
    Given the client has made 2 updates
    When a client reads page <page> of the log with <limit> entries per page
    Then the answer is 200
    And the page is page <page> with a limit of <limit>

    Examples: The smallest and the largest limit
      | page | limit |
      | 1    | 1     |
      | 2    | 1     |
      | 1    | 100   |

  Scenario Outline: Invalid paging is refused with 400
    When a client reads page <page> of the log with <limit> entries per page
    Then the answer is 400
    And the error says why
    And the error names "<field>"

    Examples: Out of range
      | page | limit | field |
      | 0    | 10    | page  |
      | 1    | 0     | limit |
      | 1    | 101   | limit |

    Examples: Not a whole number
      | page | limit | field |
      | 1.5  | 10    | page  |

  Scenario: A cursor the log did not issue is refused with 400
    When a client reads the log from a cursor the log did not issue
    Then the answer is 400
    And the error names "cursor"
    And the error does not repeat what was sent

  Scenario: A cursor and a page number together are refused
    Given the client has made 2 updates
    When a client reads the log by the cursor of its first page and by page 2 at once
    Then the answer is 400
    And the error names "cursor"
