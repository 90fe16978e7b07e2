# instance ft20
# Fisher and Thompson 20x5 instance, alternate name (mt20)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 20 5
 0 29 1  9 2 49 3 62 4 44
 0 43 1 75 3 69 2 46 4 72
 1 91 0 39 2 90 4 12 3 45
 1 81 0 71 4  9 2 85 3 22
 2 14 1 22 0 26 3 21 4 72
 2 84 1 52 4 48 0 47 3  6
 1 46 0 61 2 32 3 32 4 30
 2 31 1 46 0 32 3 19 4 36
 0 76 3 76 2 85 1 40 4 26
 1 85 2 61 0 64 3 47 4 90
 1 78 3 36 0 11 4 56 2 21
 2 90 0 11 1 28 3 46 4 30
 0 85 2 74 1 10 3 89 4 33
 2 95 0 99 1 52 3 98 4 43
 0  6 1 61 4 69 2 49 3 53
 1  2 0 95 3 72 4 65 2 25
 0 37 2 13 1 21 3 89 4 55
 0 86 1 74 4 88 2 48 3 79
 1 69 2 51 0 11 3 89 4 74
 0 13 1  7 2 76 3 52 4 45
