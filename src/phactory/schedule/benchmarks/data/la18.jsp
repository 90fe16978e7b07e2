# instance la18
# Lawrence 10x10 instance (Table 6, instance 3); also called (seta3) or (A3)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 10
 6 54 0 87 4 48 3 60 7 39 8 35 1 72 5 95 2 66 9  5
 3 20 9 46 6 34 5 55 0 97 8 19 4 59 2 21 7 37 1 46
 4 45 1 24 8 28 0 28 7 83 6 78 5 23 3 25 9  5 2 73
 9 12 1 37 4 38 3 71 8 33 2 12 6 55 0 53 7 87 5 29
 3 83 2 49 6 23 9 27 7 65 0 48 4 90 5  7 1 40 8 17
 1 66 4 25 0 62 2 84 9 13 6 64 7 46 8 59 5 19 3 85
 1 73 3 80 0 41 2 53 9 47 7 57 8 74 4 14 6 67 5 88
 5 64 3 84 6 46 1 78 0 84 7 26 8 28 9 52 2 41 4 63
 1 11 0 64 7 67 4 85 3 10 5 73 9 38 8 95 6 97 2 17
 4 60 8 32 2 95 3 93 1 65 6 85 7 43 9 85 5 46 0 59
